{
  description = "buildbot-nix: a CI master for Nix flakes, compatible with Buildbot's data API and workers";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      lib = import ./nix/lib.nix;

      overlays.default = final: _prev: {
        buildbot-nix = final.callPackage ./nix/package.nix { };
      };

      packages = forAllSystems (pkgs: rec {
        buildbot-nix = pkgs.callPackage ./nix/package.nix { };
        buildbot-effects = buildbot-nix;
        default = buildbot-nix;
      });

      nixosModules = {
        buildbot-master = ./nix/modules/master.nix;
        buildbot-worker = ./nix/modules/worker.nix;
      };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_20
            pkgs.python3
            pkgs.git
            pkgs.bubblewrap
            pkgs.buildbot-worker
            pkgs.chromium
            pkgs.postgresql
            pkgs.openssh
            pkgs.nix-eval-jobs
          ];
        };
      });

      checks = forAllSystems (
        pkgs:
        {
          package = self.packages.${pkgs.system}.buildbot-nix;
        }
        // nixpkgs.lib.optionalAttrs pkgs.stdenv.isLinux {
          master-worker-vm = pkgs.callPackage ./nix/checks/master-worker.nix { inherit self; };
        }
      );

      # Our own effects run on this repository's pushes (see plugins/effects).
      herculesCI =
        { primaryRepo, ... }:
        {
          onPush.default.outputs = {
            checks = self.checks.x86_64-linux;
            effects = { };
          };
        };
    };
}
