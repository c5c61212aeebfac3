# A minimal stand-in for nixpkgs' `lib`, enough to read the modules' option declarations without
# nixpkgs: options become { _type = "option"; ... } records and types describe themselves.
let
  isType = t: builtins.isAttrs t && t ? _type && t._type == "type";
  describe =
    t:
    let
      d = t.describe;
    in
    if builtins.match ".* .*" d != null then "(${d})" else d;
  simple = name: {
    _type = "type";
    inherit name;
    describe = name;
    children = { };
  };
  wrap = name: inner: {
    _type = "type";
    inherit name inner;
    describe = "${name} ${describe inner}";
    children = { };
  };
  # Options of a submodule given as an attrset, a function or a list of them.
  submoduleOptions =
    m:
    let
      value =
        if builtins.isFunction m then
          m {
            name = "<name>";
            config = { };
            lib = self;
          }
        else
          m;
    in
    value.options or { };
  recursiveUpdate =
    a: b:
    a
    // builtins.mapAttrs (
      n: v:
      if a ? ${n} && builtins.isAttrs v && builtins.isAttrs a.${n} && !(v ? _type) then recursiveUpdate a.${n} v else v
    ) b;
  self = {
    inherit recursiveUpdate;
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = description: {
      _type = "option";
      type = self.types.bool;
      default = false;
      description = "Whether to enable ${description}.";
    };
    mkOptionType = attrs: simple attrs.name;
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    mkRenamedOptionModule = from: to: { renamed = { inherit from to; }; };
    mkRemovedOptionModule = path: message: { removed = { inherit path message; }; };
    mkIf = cond: value: { _type = "if"; inherit cond value; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkDefault = value: value;
    mkForce = value: value;
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalAttrs = cond: a: if cond then a else { };
    mapAttrsToList = f: a: map (n: f n a.${n}) (builtins.attrNames a);
    filterAttrs = pred: a: builtins.removeAttrs a (builtins.filter (n: !(pred n a.${n})) (builtins.attrNames a));
    mapAttrs = builtins.mapAttrs;
    concatMap = f: xs: builtins.concatLists (map f xs);
    concatStringsSep = builtins.concatStringsSep;
    hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
    elem = builtins.elem;
    types = {
      bool = simple "bool";
      str = simple "str";
      int = simple "int";
      path = simple "path";
      port = simple "port";
      package = simple "package";
      unspecified = simple "unspecified";
      ints.unsigned = simple "ints.unsigned";
      enum = values: {
        _type = "type";
        name = "enum";
        describe = "enum [${builtins.concatStringsSep " " (map (v: ''"${v}"'') values)}]";
        children = { };
      };
      nullOr = wrap "nullOr";
      listOf =
        t:
        wrap "listOf" t
        // {
          children = if t.children == { } then { } else { "*" = t.children; };
        };
      attrsOf =
        t:
        wrap "attrsOf" t
        // {
          children = if t.children == { } then { } else { "<name>" = t.children; };
        };
      addCheck = t: _check: wrap "addCheck" t;
      oneOf = ts: {
        _type = "type";
        name = "oneOf";
        describe = "oneOf [${builtins.concatStringsSep " " (map describe ts)}]";
        children = { };
      };
      submodule = m: {
        _type = "type";
        name = "submodule";
        describe = "submodule";
        children = submoduleOptions m;
      };
      attrTag = tags: {
        _type = "type";
        name = "attrTag";
        describe = "attrTag";
        children = tags;
      };
    };
    inherit isType;
  };
in
self
