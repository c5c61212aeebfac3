# services.buildbot-nix.master.cachix: push what trusted builds produce to a Cachix cache.
{ config, lib, ... }:
let
  cfg = config.services.buildbot-nix.master.cachix;
  inherit (lib) mkOption types;
  fileOption =
    description:
    types.submodule {
      options.file = mkOption {
        type = types.path;
        inherit description;
      };
    };
in
{
  options.services.buildbot-nix.master.cachix = {
    enable = lib.mkEnableOption "pushing to Cachix";
    name = mkOption {
      type = types.str;
      description = "The Cachix cache's name.";
    };
    auth = mkOption {
      type = types.attrTag {
        signingKey = mkOption {
          type = fileOption "Signing key of a self-signed cache.";
          description = "Sign paths with this key and push them.";
        };
        authToken = mkOption {
          type = fileOption "Cachix auth token.";
          description = "Push with this token.";
        };
      };
      description = "How to authenticate to Cachix: `auth.authToken.file` or `auth.signingKey.file`.";
    };
    signingKeyFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      visible = false;
      description = "Deprecated: use auth.signingKey.file.";
    };
    authTokenFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      visible = false;
      description = "Deprecated: use auth.authToken.file.";
    };
  };

  config = lib.mkIf cfg.enable {
    warnings =
      lib.optional (cfg.signingKeyFile != null) "services.buildbot-nix.master.cachix.signingKeyFile is deprecated; use cachix.auth.signingKey.file."
      ++ lib.optional (cfg.authTokenFile != null) "services.buildbot-nix.master.cachix.authTokenFile is deprecated; use cachix.auth.authToken.file.";
    services.buildbot-nix.master.cachix.auth = lib.mkMerge [
      (lib.mkIf (cfg.signingKeyFile != null) { signingKey.file = cfg.signingKeyFile; })
      (lib.mkIf (cfg.authTokenFile != null) { authToken.file = cfg.authTokenFile; })
    ];
  };
}
