{
  /**
    Marks a string as a Buildbot interpolation, rendered by the master for each build, e.g.
    `interpolate "result-%(prop:attr)s"` or `interpolate "%(secret:cachix-token)s"`.
    Accepted wherever `postBuildSteps` take a string. The `kw` selector is not supported.

    Type: interpolate :: String -> { _type = "interpolate"; value :: String; }
  */
  interpolate = value: {
    _type = "interpolate";
    inherit value;
  };
}
