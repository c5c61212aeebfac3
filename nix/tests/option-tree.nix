# Reads a NixOS module (and the modules it imports) with the lib stand-in and returns its options
# as a flat list: { path = "github.appId"; type = "int"; default = ...; } under `prefix`.
# Usage: nix-instantiate --eval --strict --json option-tree.nix --arg module ../modules/master.nix --argstr prefix services.buildbot-nix.master
{
  module,
  prefix,
}:
let
  lib = import ./lib-stub.nix;
  pkgs = {
    stdenv.hostPlatform.system = "x86_64-linux";
    python3.pkgs.buildbot-worker = "<buildbot-worker>";
    nix-eval-jobs = "<nix-eval-jobs>";
    niks3 = "<niks3>";
    callPackage = _: _: "<buildbot-nix>";
  };
  config = {
    networking.hostName = "<hostname>";
    services.buildbot-nix = (import ./module-defaults.nix);
  };
  load = m: if builtins.isPath m || builtins.isString m then load (import m) else if builtins.isFunction m then m { inherit lib pkgs config; } else m;
  # Every module reachable through `imports`, each once.
  collect =
    m:
    let
      v = load m;
    in
    [ v ] ++ builtins.concatLists (map (i: if builtins.isPath i then collect i else [ (load i) ]) (v.imports or [ ]));
  modules = collect module;
  options = builtins.foldl' (acc: m: lib.recursiveUpdate acc (m.options or { })) { } modules;
  at = path: set: builtins.foldl' (s: n: s.${n} or { }) set path;
  prefixPath = builtins.filter builtins.isString (builtins.split "\\." prefix);
  isOption = v: builtins.isAttrs v && v ? _type && v._type == "option";
  defaultOf =
    o:
    if o ? defaultText then
      { text = o.defaultText.text or o.defaultText; }
    else if o ? default then
      { value = o.default; }
    else
      { required = true; };
  walk =
    path: set:
    builtins.concatLists (
      map (
        n:
        let
          v = set.${n};
          p = path ++ [ n ];
        in
        if isOption v then
          [
            ({
              path = builtins.concatStringsSep "." p;
              type = v.type.describe;
            } // defaultOf v)
          ]
          ++ walk p (v.type.children or { })
        else if builtins.isAttrs v && !(v ? _type) then
          walk p v
        else
          [ ]
      ) (builtins.attrNames set)
    );
  renames = builtins.concatLists (map (m: if m ? renamed then [ m.renamed ] else [ ]) modules);
  removals = builtins.concatLists (map (m: if m ? removed then [ m.removed.path ] else [ ]) modules);
in
{
  options = walk [ ] (at prefixPath options);
  renamed = map (r: {
    from = builtins.concatStringsSep "." r.from;
    to = builtins.concatStringsSep "." r.to;
  }) renames;
  removed = map (builtins.concatStringsSep ".") removals;
}
