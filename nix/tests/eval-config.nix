# Evaluates the master module on a user's `services.buildbot-nix.master` settings with the lib
# stand-in and returns the JSON the module hands to the master, with the systemd credentials
# it loads. Defaults are applied the way the module system applies them (including inside
# attrsOf/listOf submodules), which is all these modules need.
# Usage: nix-instantiate --eval --strict --json eval-config.nix --arg settings ./example.nix
{ settings }:
let
  lib = import ./lib-stub.nix;
  user = if builtins.isFunction (import settings) then import settings { inherit pkgs; } else import settings;
  pkgs = {
    stdenv.hostPlatform.system = "x86_64-linux";
    python3 = {
      pkgs.buildbot-worker = "<buildbot-worker>";
      withPackages = _: "<python>";
    };
    nix-eval-jobs = "<nix-eval-jobs>";
    niks3 = "<niks3>";
    git = "<git>";
    openssh = "<openssh>";
    bubblewrap = "<bubblewrap>";
    bash = "<bash>";
    coreutils = "<coreutils>";
    callPackage = _: _: "/nix/store/buildbot-nix";
    writeText = name: text: {
      outPath = "/nix/store/${name}";
      inherit name text;
    };
  };
  isOption = v: builtins.isAttrs v && v ? _type && v._type == "option";
  # Applies the declared defaults of `decls` to `value`.
  withDefaults =
    decls: value:
    let
      names = builtins.attrNames decls;
      one =
        n:
        let
          d = decls.${n};
        in
        if isOption d then
          let
            v = if value ? ${n} then value.${n} else if d ? default then d.default else throw "option ${n} is required";
            children = d.type.children or { };
          in
          if d.type.name == "listOf" && children ? "*" then
            map (withDefaults children."*") v
          else if d.type.name == "attrsOf" && children ? "<name>" then
            builtins.mapAttrs (_: withDefaults children."<name>") v
          else if d.type.name == "submodule" then
            withDefaults children v
          else if d.type.name == "attrTag" then
            builtins.mapAttrs (tag: tv: withDefaults (children.${tag}.type.children or { }) tv) v
          else
            v
        else if builtins.isAttrs d && !(d ? _type) then
          withDefaults d (value.${n} or { })
        else
          null;
    in
    builtins.listToAttrs (
      map (n: {
        name = n;
        value = one n;
      }) (builtins.filter (n: value ? ${n} || isOption decls.${n} && decls.${n} ? default || !(isOption decls.${n})) names)
    )
    // builtins.removeAttrs value names;
  load = m: if builtins.isPath m then load (import m) else if builtins.isFunction m then m { inherit lib pkgs config; } else m;
  collect = m: let v = load m; in [ v ] ++ builtins.concatLists (map (i: if builtins.isPath i then collect i else [ (load i) ]) (v.imports or [ ]));
  modules = collect ../modules/master.nix;
  options = builtins.foldl' (acc: m: lib.recursiveUpdate acc (m.options or { })) { } modules;
  master = withDefaults options.services.buildbot-nix.master user.services.buildbot-nix.master;
  config = {
    networking.hostName = "<hostname>";
    services.buildbot-nix = {
      inherit master;
      packages.buildbot-nix = "/nix/store/buildbot-nix";
    };
  };
  unIf = v: if builtins.isAttrs v && v ? _type && v._type == "if" then (if v.cond then v.value else { }) else v;
  masterConfig = unIf (builtins.head modules).config;
  unit = masterConfig.systemd.services.buildbot-master;
in
{
  options = builtins.fromJSON masterConfig.environment.etc."buildbot-nix/master-options.json".text;
  execStart = unit.serviceConfig.ExecStart;
  configText = masterConfig.environment.etc."buildbot-nix/master.config.ts".text;
  credentials = unit.serviceConfig.LoadCredential;
  assertions = map (a: { inherit (a) assertion message; }) masterConfig.assertions;
}
