# A NixOS VM test: a master with a local PostgreSQL and a pull-based repository served by
# git daemon, and a worker machine with two buildbot-worker processes; a commit to the
# repository is built and its checks succeed. Needs a machine with nixpkgs and KVM.
{
  self,
  testers,
  writeText,
}:
let
  workerPassword = "vm-test-worker-password";
  testFlake = writeText "flake.nix" ''
    {
      outputs = { self }: {
        checks.x86_64-linux.hello = derivation {
          name = "hello";
          system = "x86_64-linux";
          builder = "/bin/sh";
          args = [ "-c" "echo hello > $out" ];
        };
      };
    }
  '';
in
testers.runNixOSTest {
  name = "buildbot-nix-master-worker";
  nodes = {
    master =
      { pkgs, ... }:
      {
        imports = [ self.nixosModules.buildbot-master ];
        networking.firewall.allowedTCPPorts = [
          80
          9989
          9418
        ];
        services.buildbot-nix.master = {
          enable = true;
          domain = "master";
          authBackend = "none";
          workerPort = 9989;
          workersFile = pkgs.writeText "workers.json" ''[ { "name": "worker", "pass": "${workerPassword}", "cores": 2 } ]'';
          pullBased.repositories.demo = {
            url = "git://master/demo";
            defaultBranch = "main";
            pollInterval = 5;
          };
        };
        services.gitDaemon = {
          enable = true;
          exportAll = true;
          basePath = "/srv/git";
        };
      };
    worker =
      { pkgs, ... }:
      {
        imports = [ self.nixosModules.buildbot-worker ];
        services.buildbot-nix.worker = {
          enable = true;
          name = "worker";
          workers = 2;
          masterUrl = "tcp:host=master:port=9989";
          workerPasswordFile = pkgs.writeText "worker-password" workerPassword;
        };
      };
  };
  testScript = ''
    start_all()
    master.succeed(
        "mkdir -p /srv/git/demo && cd /srv/git/demo && git init -b main"
        " && cp ${testFlake} flake.nix && git add flake.nix"
        " && git -c user.name=t -c user.email=t@t commit -m init"
    )
    master.wait_for_unit("buildbot-master.service")
    master.wait_for_open_port(8010)
    worker.wait_for_unit("buildbot-worker.service")
    master.wait_until_succeeds("curl -sf http://localhost:8010/api/v2/workers | grep -q worker-001", timeout=120)
    master.wait_until_succeeds(
        "curl -sf 'http://localhost:8010/api/v2/builds?complete=true&results=0' | grep -q '\"buildid\"'", timeout=600
    )
    master.succeed("curl -sf -H 'Host: master' http://localhost/api/v2/builders | grep -q nix-eval")
  '';
}
