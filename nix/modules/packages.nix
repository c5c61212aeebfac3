# services.buildbot-nix.packages: the packages the master and workers run. `buildbot-nix`,
# `buildbot-effects` and `buildbot-worker` are used; the others are accepted so that a
# buildbot-nix configuration still evaluates, and warn when set.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.buildbot-nix.packages;
  inherit (lib) mkOption types;
  self = pkgs.callPackage ../package.nix { };
  unused =
    name:
    mkOption {
      type = types.nullOr types.unspecified;
      default = null;
      description = "Accepted for compatibility with buildbot-nix; not used (the master is not Buildbot's Python master).";
    };
in
{
  options.services.buildbot-nix.packages = {
    buildbot-nix = mkOption {
      type = types.package;
      default = self;
      defaultText = lib.literalExpression "buildbot-nix (this flake's package)";
      description = "The master (its `buildbot-nix` command).";
    };
    buildbot-effects = mkOption {
      type = types.package;
      default = self;
      defaultText = lib.literalExpression "buildbot-nix (this flake's package)";
      description = "The package providing `buildbot-effects`.";
    };
    buildbot-worker = mkOption {
      type = types.package;
      default = pkgs.python3.pkgs.buildbot-worker;
      defaultText = lib.literalExpression "pkgs.python3.pkgs.buildbot-worker";
      description = "Buildbot's worker, which connects to the master.";
    };
    python = unused "python";
    buildbot = unused "buildbot";
    buildbot-plugins = unused "buildbot-plugins";
    buildbot-gitea = unused "buildbot-gitea";
  };

  config.warnings = lib.concatMap (
    name: lib.optional (cfg.${name} != null) "services.buildbot-nix.packages.${name} is not used by this buildbot-nix; remove it."
  ) [ "python" "buildbot" "buildbot-plugins" "buildbot-gitea" ];
}
