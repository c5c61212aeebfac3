# services.buildbot-nix.master.niks3: push what trusted builds produce to a niks3 server.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.buildbot-nix.master.niks3;
  inherit (lib) mkOption types;
in
{
  options.services.buildbot-nix.master.niks3 = {
    enable = lib.mkEnableOption "pushing to a niks3 server";
    serverUrl = mkOption {
      type = types.str;
      description = "URL of the niks3 server.";
    };
    authTokenFile = mkOption {
      type = types.path;
      description = "File holding the niks3 auth token.";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.niks3 or null;
      defaultText = lib.literalExpression "pkgs.niks3";
      description = "The niks3 client; its `niks3` command must be on the master's PATH.";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.buildbot-master.path = [ cfg.package ];
  };
}
