# What `config.services.buildbot-nix` holds while the option tree is read: the values other
# options' defaults refer to.
{
  master = {
    authBackend = "github";
    useHTTPS = false;
    domain = "ci.example.org";
    pullBased = {
      pollInterval = 60;
      sshPrivateKeyFile = null;
      sshKnownHostsFile = null;
    };
  };
  packages = { };
}
