# services.buildbot-nix.worker: buildbot-worker processes (one per core by default) that connect to
# the master over msgpack under the names the master's workersFile lists ("<name>-000", ...).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.buildbot-nix.worker;
  packages = config.services.buildbot-nix.packages;
  inherit (lib) mkOption types;
  home = "/var/lib/buildbot-worker";
  python = pkgs.python3.withPackages (_: [ packages.buildbot-worker ]);
in
{
  imports = [
    ./packages.nix
    (lib.mkRenamedOptionModule
      [ "services" "buildbot-nix" "worker" "package" ]
      [ "services" "buildbot-nix" "packages" "buildbot-worker" ]
    )
    (lib.mkRemovedOptionModule [ "services" "buildbot-nix" "worker" "buildbotNixpkgs" ]
      "Set the packages in services.buildbot-nix.packages instead."
    )
  ];

  options.services.buildbot-nix.worker = {
    enable = lib.mkEnableOption "buildbot-nix workers";
    name = mkOption {
      type = types.str;
      default = config.networking.hostName;
      defaultText = lib.literalExpression "config.networking.hostName";
      description = "The worker's name; an entry of the master's workersFile must have it.";
    };
    nixEvalJobs.package = mkOption {
      type = types.package;
      default = pkgs.nix-eval-jobs;
      defaultText = lib.literalExpression "pkgs.nix-eval-jobs";
      description = "nix-eval-jobs, for evaluations run on this worker.";
    };
    workers = mkOption {
      type = types.int;
      default = 0;
      description = "Worker processes to start (0: one per CPU core); equal to `cores` in the master's workersFile.";
    };
    masterUrl = mkOption {
      type = types.str;
      default = "tcp:host=localhost:port=9989";
      description = "Where the master's worker port is (`tcp:host=HOST:port=PORT`).";
    };
    workerPasswordFile = mkOption {
      type = types.path;
      description = "The worker's password (the `pass` of its workersFile entry).";
    };
  };

  config = lib.mkIf cfg.enable {
    nix.settings.extra-allowed-users = [ "buildbot-worker" ];

    systemd.tmpfiles.rules = [
      "d /nix/var/nix/gcroots/per-user/buildbot-worker 0755 buildbot-worker root - -"
    ];

    users.users.buildbot-worker = {
      description = "buildbot-nix worker";
      isSystemUser = true;
      createHome = true;
      inherit home;
      group = "buildbot-worker";
      useDefaultShell = true;
    };
    users.groups.buildbot-worker = { };

    systemd.services.buildbot-worker = {
      description = "buildbot-nix workers";
      after = [
        "network.target"
        "buildbot-master.service"
      ];
      wantedBy = [ "multi-user.target" ];
      path = [
        python
        pkgs.git
        pkgs.openssh
        pkgs.bash
        pkgs.coreutils
        config.nix.package
        cfg.nixEvalJobs.package
        packages.buildbot-effects
      ];
      environment = {
        MASTER_URL = cfg.masterUrl;
        BUILDBOT_DIR = "${home}/worker";
        WORKER_COUNT = toString cfg.workers;
        WORKER_NAME = cfg.name;
        WORKER_PASSWORD_FILE = "%d/worker-password-file";
      };
      serviceConfig = {
        # A build that runs out of memory fails; the workers stay up.
        OOMPolicy = "continue";
        LoadCredential = [ "worker-password-file:${cfg.workerPasswordFile}" ];
        Type = "simple";
        User = "buildbot-worker";
        Group = "buildbot-worker";
        WorkingDirectory = home;
        Restart = "always";
        RestartSec = 5;
        ExecStart = "${pkgs.bash}/bin/bash ${../worker-launcher.sh}";
      };
    };
  };
}
