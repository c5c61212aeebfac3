# services.buildbot-nix.master: the options of buildbot-nix's master module, under the same names,
# types and defaults. The module holds no logic of its own: it writes the options as JSON
# (secret files replaced by systemd credential names) and runs `buildbot-nix start` on a generated
# master.config.ts that turns that JSON into the master's configuration (nix/config/).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.buildbot-nix.master;
  packages = config.services.buildbot-nix.packages;
  inherit (lib) mkOption mkEnableOption types;

  interpolateType = lib.mkOptionType {
    name = "interpolate";
    description = "a Buildbot interpolation made with `buildbot-nix.lib.interpolate`";
    check = x: builtins.isAttrs x && x ? _type && x._type == "interpolate" && x ? value;
  };

  # Credential names as buildbot-nix names them, so `%(secret:NAME)s` keeps working.
  credentialName =
    name:
    builtins.replaceStrings
      [
        "/"
        ":"
        "*"
      ]
      [
        "_slash_"
        "_colon_"
        "_star_"
      ]
      name;

  fullyPrivate = cfg.accessMode ? fullyPrivate;
  orNull = cond: value: if cond then value else null;

  pullBasedWithKey = lib.filterAttrs (_: r: r.sshPrivateKeyFile != null) cfg.pullBased.repositories;

  credentials =
    [ "buildbot-nix-workers:${cfg.workersFile}" ]
    ++ lib.optionals cfg.github.enable [
      "github-webhook-secret:${cfg.github.webhookSecretFile}"
      "github-app-secret-key:${cfg.github.appSecretKeyFile}"
    ]
    ++ lib.optional (
      cfg.github.enable && cfg.github.oauthSecretFile != null
    ) "github-oauth-secret:${cfg.github.oauthSecretFile}"
    ++ lib.optionals cfg.gitea.enable [
      "gitea-token:${cfg.gitea.tokenFile}"
      "gitea-webhook-secret:${cfg.gitea.webhookSecretFile}"
    ]
    ++ lib.optional (
      cfg.gitea.enable && cfg.gitea.oauthSecretFile != null
    ) "gitea-oauth-secret:${cfg.gitea.oauthSecretFile}"
    ++ lib.optional (
      cfg.gitea.enable && cfg.gitea.sshPrivateKeyFile != null
    ) "gitea-ssh-private-key:${cfg.gitea.sshPrivateKeyFile}"
    ++ lib.optional (
      cfg.authBackend == "oidc" && cfg.oidc.clientSecretFile != null
    ) "oidc-client-secret:${cfg.oidc.clientSecretFile}"
    ++ lib.optional (
      cfg.httpBasicAuthPasswordFile != null
    ) "http-basic-auth-password:${cfg.httpBasicAuthPasswordFile}"
    ++ lib.mapAttrsToList (
      name: path: "effects-secret__${credentialName name}:${path}"
    ) cfg.effects.perRepoSecretFiles
    ++ lib.mapAttrsToList (
      name: r: "pull-based__${credentialName name}:${r.sshPrivateKeyFile}"
    ) pullBasedWithKey
    ++ lib.optional (
      cfg.cachix.enable && cfg.cachix.auth ? authToken
    ) "cachix-auth-token:${cfg.cachix.auth.authToken.file}"
    ++ lib.optional (
      cfg.cachix.enable && cfg.cachix.auth ? signingKey
    ) "cachix-signing-key:${cfg.cachix.auth.signingKey.file}"
    ++ lib.optional cfg.niks3.enable "niks3-auth-token:${cfg.niks3.authTokenFile}";

  # The options as the master reads them: option names kept, secret files as credential names.
  settings = {
    inherit (cfg)
      dbUrl
      authBackend
      admins
      domain
      useHTTPS
      webhookBaseUrl
      buildSystems
      evalMaxMemorySize
      evalWorkerCount
      showTrace
      buildMaxSilentTime
      buildTimeout
      cacheFailedBuilds
      allowUnauthenticatedControl
      outputsPath
      failedBuildReportLimit
      port
      workerPort
      listenAddress
      ;
    workersFile = "buildbot-nix-workers";
    httpBasicAuthPasswordFile = orNull (cfg.httpBasicAuthPasswordFile != null) "http-basic-auth-password";
    branches = lib.mapAttrs (_: b: { inherit (b) matchGlob registerGCRoots updateOutputs; }) cfg.branches;
    postBuildSteps = map (s: {
      inherit (s)
        name
        command
        environment
        warnOnly
        ;
    }) cfg.postBuildSteps;
    accessMode =
      if fullyPrivate then
        {
          fullyPrivate = {
            inherit (cfg.accessMode.fullyPrivate)
              backend
              clientId
              teams
              users
              port
              ;
          };
        }
      else
        { public = { }; };
    github = orNull cfg.github.enable {
      inherit (cfg.github)
        appId
        userAllowlist
        repoAllowlist
        topic
        oauthId
        ;
      appSecretKeyFile = "github-app-secret-key";
      webhookSecretFile = "github-webhook-secret";
      oauthSecretFile = orNull (cfg.github.oauthSecretFile != null) "github-oauth-secret";
    };
    gitea = orNull cfg.gitea.enable {
      inherit (cfg.gitea)
        instanceUrl
        userAllowlist
        repoAllowlist
        topic
        oauthId
        sshKnownHostsFile
        ;
      tokenFile = "gitea-token";
      webhookSecretFile = "gitea-webhook-secret";
      oauthSecretFile = orNull (cfg.gitea.oauthSecretFile != null) "gitea-oauth-secret";
      sshPrivateKeyFile = orNull (cfg.gitea.sshPrivateKeyFile != null) "gitea-ssh-private-key";
    };
    oidc = orNull (cfg.authBackend == "oidc") {
      inherit (cfg.oidc)
        name
        discoveryUrl
        clientId
        scope
        mapping
        ;
      clientSecretFile = orNull (cfg.oidc.clientSecretFile != null) "oidc-client-secret";
    };
    pullBased = {
      inherit (cfg.pullBased) pollInterval pollSpread sshKnownHostsFile;
      repositories = lib.mapAttrs (name: r: {
        inherit (r)
          url
          defaultBranch
          pollInterval
          sshKnownHostsFile
          ;
        sshPrivateKeyFile = orNull (r.sshPrivateKeyFile != null) "pull-based__${credentialName name}";
      }) cfg.pullBased.repositories;
    };
    effects = {
      inherit (cfg.effects) extraSandboxPaths;
      perRepoSecretFiles = lib.mapAttrs (name: _: "effects-secret__${credentialName name}") cfg.effects.perRepoSecretFiles;
    };
    cachix = orNull cfg.cachix.enable {
      inherit (cfg.cachix) name;
      auth =
        if cfg.cachix.auth ? authToken then
          { authToken.file = "cachix-auth-token"; }
        else
          { signingKey.file = "cachix-signing-key"; };
    };
    niks3 = orNull cfg.niks3.enable {
      inherit (cfg.niks3) serverUrl;
      authTokenFile = "niks3-auth-token";
    };
  };

  settingsJson = builtins.toJSON settings;
  optionsPath = "/etc/buildbot-nix/master-options.json";
  package = packages.buildbot-nix;
  configText = ''
    import { masterFromNixosOptions } from '${package}/lib/node_modules/buildbot-nix/nix/config/index.ts'
    export default await masterFromNixosOptions('${optionsPath}')
  '';

  # What the GitHub and Gitea integrations share: whether they are on (by default when users sign
  # in with that forge), which repositories are built, the webhook secret, the sign-in application.
  forgeOptions =
    {
      forge,
      label,
      webhooks,
      oauthApp,
      topicNull,
    }:
    {
      enable = mkEnableOption "the ${label} integration" // {
        default = cfg.authBackend == forge;
        defaultText = lib.literalExpression ''config.services.buildbot-nix.master.authBackend == "${forge}"'';
      };
      userAllowlist = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
        description = "Only repositories of these users or organisations are built.";
      };
      repoAllowlist = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
        description = "Only these repositories (owner/repo) are built.";
      };
      webhookSecretFile = mkOption {
        type = types.path;
        description = "Secret that signs ${webhooks} webhooks.";
      };
      oauthSecretFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Client secret of ${oauthApp} used to sign in.";
      };
      oauthId = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Client id of ${oauthApp} used to sign in.";
      };
      topic = mkOption {
        type = types.nullOr types.str;
        default = "build-with-buildbot";
        description = "Only repositories with this topic are built (null: ${topicNull}).";
      };
    };

  branchType = types.submodule {
    options = {
      matchGlob = mkOption {
        type = types.str;
        description = "Branches whose name matches this glob are built like the default branch.";
      };
      registerGCRoots = mkOption {
        type = types.bool;
        default = true;
        description = "Keep GC roots for the outputs built on these branches.";
      };
      updateOutputs = mkOption {
        type = types.bool;
        default = false;
        description = "Write the latest output paths of these branches to `outputsPath`.";
      };
    };
  };

  postBuildStepType = types.submodule {
    options = {
      name = mkOption {
        type = types.str;
        description = "The step's name, shown in the UI.";
      };
      environment = mkOption {
        type = types.attrsOf (types.oneOf [ interpolateType types.str ]);
        default = { };
        description = "Environment of the command; values may be interpolations such as `%(secret:cachix-token)s`.";
      };
      command = mkOption {
        type = types.oneOf [
          types.str
          (types.listOf (types.oneOf [ types.str interpolateType ]))
        ];
        description = "The command, as an argument list passed to execve (never through a shell).";
      };
      warnOnly = mkOption {
        type = types.bool;
        default = false;
        description = "A failure of this step makes the build WARNINGS instead of FAILURE.";
      };
    };
  };

  pullBasedRepoType = types.submodule (
    { name, ... }:
    {
      options = {
        defaultBranch = mkOption {
          type = types.str;
          description = "The branch whose builds are kept.";
        };
        url = mkOption {
          type = types.str;
          description = "The git URL to poll (https://, ssh:// or git://).";
        };
        pollInterval = mkOption {
          type = types.addCheck types.int (x: x > 0);
          default = cfg.pullBased.pollInterval;
          defaultText = lib.literalExpression "config.services.buildbot-nix.master.pullBased.pollInterval";
          description = "Seconds between polls of ${name}.";
        };
        sshPrivateKeyFile = mkOption {
          type = types.nullOr types.path;
          default = cfg.pullBased.sshPrivateKeyFile;
          defaultText = lib.literalExpression "config.services.buildbot-nix.master.pullBased.sshPrivateKeyFile";
          description = "SSH key for this repository.";
        };
        sshKnownHostsFile = mkOption {
          type = types.nullOr types.path;
          default = cfg.pullBased.sshKnownHostsFile;
          defaultText = lib.literalExpression "config.services.buildbot-nix.master.pullBased.sshKnownHostsFile";
          description = "known_hosts for this repository (host keys are checked strictly).";
        };
      };
    }
  );
in
{
  imports = [
    ./packages.nix
    ./cachix.nix
    ./niks3.nix
    (lib.mkRenamedOptionModule
      [ "services" "buildbot-nix" "master" "github" "admins" ]
      [ "services" "buildbot-nix" "master" "admins" ]
    )
    (lib.mkRenamedOptionModule
      [ "services" "buildbot-nix" "master" "jobReportLimit" ]
      [ "services" "buildbot-nix" "master" "failedBuildReportLimit" ]
    )
    (lib.mkRemovedOptionModule [ "services" "buildbot-nix" "master" "github" "authType" ]
      "GitHub is reached as a GitHub App only; set services.buildbot-nix.master.github.appId and github.appSecretKeyFile."
    )
    (lib.mkRemovedOptionModule [ "services" "buildbot-nix" "master" "github" "user" ]
      "A GitHub App needs no user; remove the option."
    )
    (lib.mkRemovedOptionModule [ "services" "buildbot-nix" "master" "buildbotNixpkgs" ]
      "Set the packages in services.buildbot-nix.packages instead."
    )
  ];

  options.services.buildbot-nix.master = {
    enable = mkEnableOption "the buildbot-nix master";

    dbUrl = mkOption {
      type = types.str;
      default = "postgresql://@/buildbot";
      description = "Database URL: PostgreSQL (the default, a local database over its socket) or `sqlite:/var/lib/buildbot-nix/state.sqlite`.";
    };
    authBackend = mkOption {
      type = types.enum [
        "github"
        "gitea"
        "httpbasicauth"
        "oidc"
        "none"
      ];
      default = "github";
      description = "How users sign in to the web UI.";
    };
    httpBasicAuthPasswordFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = "Password that oauth2-proxy presents (HTTP Basic) in the fullyPrivate access mode.";
    };
    postBuildSteps = mkOption {
      type = types.listOf postBuildStepType;
      default = [ ];
      description = "Steps run after each successful attribute build of a trusted change.";
    };
    accessMode = mkOption {
      type = types.attrTag {
        public = lib.mkOption {
          type = types.submodule { };
          description = "Everyone may read; control needs a sign-in.";
        };
        fullyPrivate = lib.mkOption {
          type = types.submodule {
            options = {
              backend = mkOption {
                type = types.enum [
                  "gitea"
                  "github"
                ];
                description = "The forge oauth2-proxy signs users in with.";
              };
              cookieSecretFile = mkOption {
                type = types.path;
                description = "oauth2-proxy's cookie secret.";
              };
              clientSecretFile = mkOption {
                type = types.path;
                description = "OAuth client secret for oauth2-proxy.";
              };
              clientId = mkOption {
                type = types.str;
                description = "OAuth client id for oauth2-proxy.";
              };
              teams = mkOption {
                type = types.listOf types.str;
                default = [ ];
                description = "Teams (org/team) whose members may see anything.";
              };
              users = mkOption {
                type = types.listOf types.str;
                default = [ ];
                description = "Users who may see anything (besides `admins`).";
              };
              port = mkOption {
                type = types.port;
                default = 8020;
                description = "Port oauth2-proxy listens on; nginx sends every request to it.";
              };
            };
          };
          description = "Nothing but the change hooks is reachable without signing in through oauth2-proxy.";
        };
      };
      default = {
        public = { };
      };
      description = "Who may see the master: `{ public = { }; }` or `{ fullyPrivate = { ... }; }`.";
    };

    gitea =
      forgeOptions {
        forge = "gitea";
        label = "Gitea/Forgejo";
        webhooks = "Gitea's";
        oauthApp = "the Gitea OAuth application";
        topicNull = "all the token can see";
      }
      // {
        tokenFile = mkOption {
          type = types.path;
          description = "API token of a Gitea user that is admin of the repositories to build.";
        };
        instanceUrl = mkOption {
          type = types.str;
          description = "URL of the Gitea or Forgejo instance.";
        };
        sshPrivateKeyFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "Clone over SSH with this key instead of HTTPS with the token.";
        };
        sshKnownHostsFile = mkOption {
          type = types.nullOr types.path;
          default = null;
          description = "known_hosts for SSH clones (host keys are checked strictly).";
        };
      };

    github =
      forgeOptions {
        forge = "github";
        label = "GitHub";
        webhooks = "GitHub's";
        oauthApp = "the GitHub App (or OAuth App)";
        topicNull = "every repository of the installations";
      }
      // {
        appId = mkOption {
          type = types.int;
          description = "The GitHub App's id.";
        };
        appSecretKeyFile = mkOption {
          type = types.path;
          description = "The GitHub App's private key (PEM).";
        };
      };

    oidc = {
      name = mkOption {
        type = types.str;
        default = "OIDC Provider";
        description = "Name of the provider on the sign-in button.";
      };
      discoveryUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "The provider's `.well-known/openid-configuration` URL.";
      };
      clientId = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "OIDC client id.";
      };
      clientSecretFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "OIDC client secret.";
      };
      scope = mkOption {
        type = types.listOf types.str;
        default = [
          "openid"
          "email"
          "profile"
        ];
        description = "Scopes requested at sign-in.";
      };
      mapping = mkOption {
        type = types.submodule {
          options = {
            email = mkOption {
              type = types.str;
              default = "email";
              description = "Claim holding the e-mail address.";
            };
            username = mkOption {
              type = types.str;
              default = "preferred_username";
              description = "Claim holding the user name.";
            };
            full_name = mkOption {
              type = types.str;
              default = "name";
              description = "Claim holding the full name.";
            };
            groups = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "Claim holding the groups (null: none).";
            };
          };
        };
        default = {
          email = "email";
          username = "preferred_username";
          full_name = "name";
          groups = null;
        };
        description = "Which claims fill the user's fields.";
      };
    };

    pullBased = {
      repositories = mkOption {
        type = types.attrsOf pullBasedRepoType;
        default = { };
        description = "Repositories polled for new commits (no forge, no statuses).";
      };
      pollInterval = mkOption {
        type = types.addCheck types.int (x: x > 0);
        default = 60;
        description = "Default seconds between polls.";
      };
      pollSpread = mkOption {
        type = types.nullOr types.int;
        default = null;
        description = "Spread the polls of many repositories over this many seconds.";
      };
      sshPrivateKeyFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Default SSH key for pull-based repositories.";
      };
      sshKnownHostsFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Default known_hosts for pull-based repositories.";
      };
    };

    admins = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Users (forge logins) who may do everything, including reloading projects.";
    };
    workersFile = mkOption {
      type = types.path;
      description = ''JSON list of the workers that may connect: `[{ "name": "eve", "pass": "...", "cores": 16 }]`.'';
    };
    buildSystems = mkOption {
      type = types.listOf types.str;
      default = [ pkgs.stdenv.hostPlatform.system ];
      defaultText = lib.literalExpression "[ pkgs.stdenv.hostPlatform.system ]";
      description = "Systems whose attributes are built.";
    };
    evalMaxMemorySize = mkOption {
      type = types.int;
      default = 2048;
      description = "MiB an evaluation process may use.";
    };
    evalWorkerCount = mkOption {
      type = types.nullOr types.int;
      default = null;
      description = "Evaluation processes per evaluation (null: the number of CPUs).";
    };
    domain = mkOption {
      type = types.str;
      description = "Host name the master is reached at.";
    };
    webhookBaseUrl = mkOption {
      type = types.str;
      default = "${if cfg.useHTTPS then "https" else "http"}://${cfg.domain}/";
      defaultText = lib.literalExpression ''"http(s)://''${domain}/"'';
      description = "Base URL forges send webhooks to (`<webhookBaseUrl>change_hook/github`).";
    };
    enableNginx = mkOption {
      type = types.bool;
      default = true;
      description = "Serve the master through an nginx virtual host for `domain`.";
    };
    useHTTPS = mkOption {
      type = types.nullOr types.bool;
      default = false;
      description = "The master is reached over HTTPS (e.g. TLS ends in a proxy in front of it).";
    };
    showTrace = mkOption {
      type = types.nullOr types.bool;
      default = false;
      description = "Pass --show-trace to evaluations.";
    };
    buildMaxSilentTime = mkOption {
      type = types.int;
      default = 60 * 20;
      description = "Seconds a build may print nothing before it is stopped.";
    };
    buildTimeout = mkOption {
      type = types.int;
      default = 60 * 60 * 3;
      description = "Seconds a build may take.";
    };
    cacheFailedBuilds = mkEnableOption "remembering failed derivations so they are not built again";
    allowUnauthenticatedControl = mkEnableOption "force, rebuild, stop and cancel for users who are not signed in";
    outputsPath = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = "Directory where the latest output path of each attribute is written (served at /nix-outputs/).";
    };
    failedBuildReportLimit = mkOption {
      type = types.ints.unsigned;
      default = 47;
      description = "Failed attributes reported as their own commit status per evaluation (50 minus eval, build and effects).";
    };
    effects = {
      perRepoSecretFiles = mkOption {
        type = types.attrsOf types.path;
        default = { };
        description = ''Secrets of effects, per repository (`"github:owner/repo"`) or owner (`"github:owner/*"`).'';
      };
      extraSandboxPaths = mkOption {
        type = types.listOf types.path;
        default = [ ];
        description = "Host paths effects may read inside their sandbox.";
      };
    };
    branches = mkOption {
      type = types.attrsOf branchType;
      default = { };
      description = "Branches built besides the default branch.";
    };

    # Not in buildbot-nix, which takes these from services.buildbot-master.
    port = mkOption {
      type = types.port;
      default = 8010;
      description = "Port of the web UI and API (behind nginx unless enableNginx is false).";
    };
    workerPort = mkOption {
      type = types.port;
      default = 9989;
      description = "Port buildbot-worker processes connect to.";
    };
    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      description = "Address the web UI and API listen on.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.authBackend == "github" -> (cfg.github.oauthId != null && cfg.github.oauthSecretFile != null);
        message = ''services.buildbot-nix.master.authBackend is "github": set github.oauthId and github.oauthSecretFile.'';
      }
      {
        assertion = cfg.authBackend == "gitea" -> (cfg.gitea.oauthId != null && cfg.gitea.oauthSecretFile != null);
        message = ''services.buildbot-nix.master.authBackend is "gitea": set gitea.oauthId and gitea.oauthSecretFile.'';
      }
      {
        assertion = cfg.authBackend == "github" -> cfg.github.enable;
        message = ''services.buildbot-nix.master.authBackend is "github": enable github.'';
      }
      {
        assertion = cfg.authBackend == "gitea" -> cfg.gitea.enable;
        message = ''services.buildbot-nix.master.authBackend is "gitea": enable gitea.'';
      }
      {
        assertion =
          cfg.authBackend == "oidc"
          -> (cfg.oidc.discoveryUrl != null && cfg.oidc.clientId != null && cfg.oidc.clientSecretFile != null);
        message = ''services.buildbot-nix.master.authBackend is "oidc": set oidc.discoveryUrl, oidc.clientId and oidc.clientSecretFile.'';
      }
      {
        assertion = fullyPrivate -> cfg.httpBasicAuthPasswordFile != null;
        message = "services.buildbot-nix.master.accessMode.fullyPrivate needs httpBasicAuthPasswordFile (the secret oauth2-proxy presents).";
      }
    ];

    services.buildbot-nix.master.authBackend = lib.mkIf fullyPrivate "httpbasicauth";

    users.users.buildbot = {
      isSystemUser = true;
      group = "buildbot";
      home = "/var/lib/buildbot-nix";
    };
    users.groups.buildbot = { };

    # The options as the master reads them (no secret is in it: secrets are credential names).
    environment.etc."buildbot-nix/master-options.json".text = settingsJson;
    environment.etc."buildbot-nix/master.config.ts".text = configText;

    systemd.services.buildbot-master = {
      description = "buildbot-nix master";
      restartTriggers = [
        settingsJson
        configText
      ];
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [
        "network-online.target"
        "postgresql.service"
      ];
      path = [
        config.nix.package
        pkgs.git
        pkgs.openssh
        pkgs.bubblewrap
        pkgs.nix-eval-jobs
      ];
      environment = {
        BUILDBOT_NIX_STATE_DIR = "/var/lib/buildbot-nix";
        NODE_ENV = "production";
      };
      serviceConfig = {
        ExecStart = "${package}/bin/buildbot-nix start --config /etc/buildbot-nix/master.config.ts";
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        User = "buildbot";
        Group = "buildbot";
        StateDirectory = "buildbot-nix";
        CacheDirectory = "buildbot-nix";
        RuntimeDirectory = "buildbot-master";
        WorkingDirectory = "/var/lib/buildbot-nix";
        LoadCredential = credentials;
        Restart = "on-failure";
        TimeoutStopSec = 120;
        # Hardening: the master needs the network, the nix daemon, its state and the GC roots.
        NoNewPrivileges = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        LockPersonality = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        RestrictAddressFamilies = [
          "AF_UNIX"
          "AF_INET"
          "AF_INET6"
          "AF_NETLINK"
        ];
        SystemCallArchitectures = "native";
        CapabilityBoundingSet = "";
        UMask = "0077";
        ReadWritePaths = [
          "/nix/var/nix/gcroots/per-user/buildbot"
          "/nix/var/nix/daemon-socket"
        ]
        ++ lib.optional (cfg.outputsPath != null) cfg.outputsPath;
      };
    };

    systemd.tmpfiles.rules = [
      "d /nix/var/nix/gcroots/per-user/buildbot 0755 buildbot root - -"
      "e /nix/var/nix/gcroots/per-user/buildbot/*/drvs - - - 7d -"
    ]
    ++ lib.optional (cfg.outputsPath != null) "d ${cfg.outputsPath} 0755 buildbot buildbot - -";

    nix.settings.extra-allowed-users = [ "buildbot" ];

    services.postgresql = lib.mkIf (cfg.dbUrl == "postgresql://@/buildbot") {
      enable = true;
      ensureDatabases = [ "buildbot" ];
      ensureUsers = [
        {
          name = "buildbot";
          ensureDBOwnership = true;
        }
      ];
    };

    services.nginx = lib.mkIf cfg.enableNginx {
      enable = true;
      recommendedProxySettings = lib.mkDefault true;
      virtualHosts.${cfg.domain}.locations = {
        "/" = {
          proxyPass = "http://127.0.0.1:${toString (if fullyPrivate then cfg.accessMode.fullyPrivate.port else cfg.port)}";
          extraConfig = ''
            proxy_connect_timeout 120s;
            proxy_send_timeout 120s;
            proxy_read_timeout 120s;
          '';
        };
        "/ws" = {
          proxyPass = "http://127.0.0.1:${toString (if fullyPrivate then cfg.accessMode.fullyPrivate.port else cfg.port)}/ws";
          proxyWebsockets = true;
          extraConfig = "proxy_read_timeout 6000s;";
        };
      }
      // lib.optionalAttrs (cfg.outputsPath != null) {
        "/nix-outputs/" = {
          alias = "${cfg.outputsPath}/";
          extraConfig = ''
            charset utf-8;
            autoindex on;
          '';
        };
      };
    };

    # fullyPrivate: oauth2-proxy in front of the master; it signs users in with the forge and
    # passes them on with the shared Basic secret. The master (on `port`) checks that secret.
    services.oauth2-proxy = lib.mkIf fullyPrivate {
      enable = true;
      clientID = cfg.accessMode.fullyPrivate.clientId;
      extraConfig = lib.mkMerge [
        {
          config = "/etc/oauth2-proxy/oauth2-proxy.toml";
          redirect-url = "${if cfg.useHTTPS then "https" else "http"}://${cfg.domain}/oauth2/callback";
          http-address = "127.0.0.1:${toString cfg.accessMode.fullyPrivate.port}";
          upstream = "http://127.0.0.1:${toString cfg.port}";
          cookie-secure = cfg.useHTTPS == true;
          skip-auth-route = [ "^/change_hook" ];
          api-route = [
            "^/api"
            "^/ws$"
          ];
          set-basic-auth = true;
          github-user = lib.concatStringsSep "," (cfg.accessMode.fullyPrivate.users ++ cfg.admins);
          github-team = cfg.accessMode.fullyPrivate.teams;
          email-domain = "*";
          provider = "github";
        }
        (lib.mkIf (cfg.accessMode.fullyPrivate.backend == "gitea") {
          provider-display-name = "Gitea";
          login-url = "${cfg.gitea.instanceUrl}/login/oauth/authorize";
          redeem-url = "${cfg.gitea.instanceUrl}/login/oauth/access_token";
          validate-url = "${cfg.gitea.instanceUrl}/api/v1/user/emails";
        })
      ];
    };

    systemd.services.oauth2-proxy = lib.mkIf fullyPrivate {
      serviceConfig = {
        ConfigurationDirectory = "oauth2-proxy";
        LoadCredential = [
          "client-secret:${cfg.accessMode.fullyPrivate.clientSecretFile}"
          "cookie-secret:${cfg.accessMode.fullyPrivate.cookieSecretFile}"
          "basic-auth-password:${cfg.httpBasicAuthPasswordFile}"
        ];
      };
      preStart = ''
        (
          umask 0077
          cat > "$CONFIGURATION_DIRECTORY/oauth2-proxy.toml" <<EOF
        client_secret = "$(cat "$CREDENTIALS_DIRECTORY/client-secret")"
        cookie_secret = "$(cat "$CREDENTIALS_DIRECTORY/cookie-secret")"
        basic_auth_password = "$(cat "$CREDENTIALS_DIRECTORY/basic-auth-password")"
        scope = "read:user user:email repo"
        EOF
        )
      '';
    };
  };
}
