# A master configured as buildbot-nix's README and examples configure one (GitHub App, OAuth
# sign-in, Cachix, a pull-based repository, extra branches), with its secrets as store files.
{ pkgs }:
{
  services.buildbot-nix.master = {
    enable = true;
    domain = "ci.example.org";
    useHTTPS = true;
    workersFile = pkgs.writeText "workers.json" ''[ { "name": "eve", "pass": "worker-password", "cores": 2 } ]'';
    admins = [ "alice" ];
    github = {
      appId = 12345;
      appSecretKeyFile = pkgs.writeText "app-secret.key" "key";
      webhookSecretFile = pkgs.writeText "webhook-secret" "secret";
      oauthId = "Iv1.0123456789abcdef";
      oauthSecretFile = pkgs.writeText "oauth-secret" "oauth";
      topic = "build-with-buildbot";
    };
    cachix = {
      enable = true;
      name = "example";
      auth.authToken.file = "/var/lib/secrets/cachix-token";
    };
    pullBased.repositories.demo = {
      url = "https://git.example.org/demo.git";
      defaultBranch = "main";
    };
    branches.releases.matchGlob = "release-*";
    effects.perRepoSecretFiles."github:example/app" = "/var/lib/secrets/effects.json";
    postBuildSteps = [
      {
        name = "upload";
        command = [ "upload" { _type = "interpolate"; value = "%(prop:out_path)s"; } ];
        environment.TOKEN = { _type = "interpolate"; value = "%(secret:cachix-auth-token)s"; };
      }
    ];
    outputsPath = "/var/www/buildbot/nix-outputs";
    evalWorkerCount = 4;
  };
}
