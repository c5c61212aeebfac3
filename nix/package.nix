# The buildbot-nix package: the master (`buildbot-nix`), the effects CLI (`buildbot-effects`) and
# the sources of the web UI (built into the master's state folder at start). Dependencies come
# from package-lock.json (importNpmLock: no hash to update); better-sqlite3's native module is
# compiled against this node.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs_20,
  python3,
  makeWrapper,
  nix,
  git,
  openssh,
  bubblewrap,
}:
let
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../bin
      ../core
      ../plugins
      ../ui
      ../nix/config
      ../nix/lib.nix
      ../master.config.ts
    ];
  };
in
buildNpmPackage {
  pname = "buildbot-nix";
  version = (builtins.fromJSON (builtins.readFile ../package.json)).version;
  inherit src;
  nodejs = nodejs_20;
  npmDeps = importNpmLock { npmRoot = src; };
  npmConfigHook = importNpmLock.npmConfigHook;
  # node-gyp needs python to build better-sqlite3.
  nativeBuildInputs = [
    python3
    makeWrapper
  ];
  dontNpmBuild = true;
  # The command-line bundles are built here, once: the store is read-only at run time.
  postInstall = ''
    pkgdir=$out/lib/node_modules/buildbot-nix
    (cd $pkgdir && node bin/prebuild.mjs)
    for bin in buildbot-nix buildbot-effects; do
      if [ -e $pkgdir/bin/$bin.mjs ]; then
        makeWrapper ${nodejs_20}/bin/node $out/bin/$bin \
          --add-flags "--max-semi-space-size=1 --v8-pool-size=1 --heap-growing-percent=50 $pkgdir/bin/$bin.mjs" \
          --prefix PATH : ${
            lib.makeBinPath [
              nix
              git
              openssh
              bubblewrap
            ]
          }
      fi
    done
  '';
  meta = {
    description = "A CI master for Nix flakes, compatible with Buildbot's data API and workers";
    license = lib.licenses.mit;
    mainProgram = "buildbot-nix";
    platforms = lib.platforms.linux;
  };
}
