# A small stand-in for nixpkgs' `lib`, for offline tests only.
#
# It provides just the functions flake.nix, nix/package.nix, nix/module.nix
# and the harness in nix/tests/ use, with nixpkgs' semantics for the inputs
# those files pass.
# Module helpers return the same `_type` tagged values as nixpkgs
# (`if`, `merge`, `override`, `option`), so the harness in
# nix/tests/module-eval.nix can resolve them; the types carry the same `check`
# predicates as nixpkgs' types. There is no module system here: merging and
# priorities are approximated by the harness (see docs/nixos.md).
let
  inherit (builtins)
    all any attrNames concatLists concatStringsSep elem filter foldl'
    isAttrs isBool isList isPath isString listToAttrs replaceStrings split
    stringLength substring;

  isStringLike = x: isString x || isPath x || (isAttrs x && (x ? outPath || x ? __toString));
  isDerivation = x: isAttrs x && (x.type or null) == "derivation";

  mkOptionType =
    { name, description ? name, check ? (_: true), nestedTypes ? { } }:
    { _type = "option-type"; inherit name description check nestedTypes; };

  types = {
    bool = mkOptionType { name = "bool"; description = "boolean"; check = isBool; };
    str = mkOptionType { name = "str"; description = "string"; check = isString; };
    # nixpkgs: a string or path whose string form is absolute.
    path = mkOptionType {
      name = "path";
      description = "path";
      check = x: isStringLike x && substring 0 1 (toString x) == "/";
    };
    # nixpkgs: a derivation, or a store path given as a string.
    package = mkOptionType {
      name = "package";
      description = "package";
      check = x: isDerivation x || (isStringLike x && substring 0 11 (toString x) == "/nix/store/");
    };
    listOf = elemType: mkOptionType {
      name = "listOf";
      description = "list of ${elemType.description}";
      check = x: isList x && all elemType.check x;
      nestedTypes = { inherit elemType; };
    };
    attrsOf = elemType: mkOptionType {
      name = "attrsOf";
      description = "attribute set of ${elemType.description}";
      check = x: isAttrs x && all (n: elemType.check x.${n}) (attrNames x);
      nestedTypes = { inherit elemType; };
    };
    nullOr = elemType: mkOptionType {
      name = "nullOr";
      description = "null or ${elemType.description}";
      check = x: x == null || elemType.check x;
      nestedTypes = { inherit elemType; };
    };
    enum = values: mkOptionType {
      name = "enum";
      description = "one of ${concatStringsSep ", " (map toString values)}";
      check = x: elem x values;
    };
    lines = mkOptionType { name = "lines"; description = "strings concatenated with \"\\n\""; check = isString; };
    # nixpkgs: a string matching the whole of a POSIX extended regex.
    strMatching = pattern: mkOptionType {
      name = "strMatching ${builtins.toJSON pattern}";
      description = "string matching the pattern ${pattern}";
      check = x: isString x && builtins.match pattern x != null;
    };
    # nixpkgs: strMatching "[^\n\r]*\n?".
    singleLineStr = mkOptionType {
      name = "singleLineStr";
      description = "(optionally newline-terminated) single-line string";
      check = x: isString x && builtins.match "[^\n\r]*\n?" x != null;
    };
    unspecified = mkOptionType { name = "unspecified"; };
    # nixpkgs: the type with one more predicate; the description is kept.
    addCheck = elemType: check: elemType // { check = x: elemType.check x && check x; };
  };

  mkOverride = priority: content: { _type = "override"; inherit priority content; };

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;

  # nixpkgs' escapeShellArg: leave safe words alone, single-quote the rest.
  escapeShellArg = arg:
    let s = toString arg;
    in if builtins.match "[[:alnum:],._+:@%/-]+" s != null then s
       else "'${replaceStrings [ "'" ] [ "'\\''" ] s}'";

  # nixpkgs' fileset.toSource for a union of paths: copies `root` keeping only
  # the given files and directories (and the directories leading to them).
  filesetToSource = { root, fileset }:
    let keep = map toString fileset;
    in
    builtins.path {
      name = "source";
      path = root;
      filter = path: _type:
        any (k: path == k || hasPrefix "${k}/" path || hasPrefix "${path}/" k) keep;
    };
in
rec {
  inherit types mkOptionType mkOverride hasPrefix escapeShellArg isDerivation isStringLike;

  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: mkOption {
    type = types.bool;
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
  };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkDefault = mkOverride 1000;
  literalExpression = text: { _type = "literalExpression"; inherit text; };

  genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
  filterAttrs = pred: attrs:
    listToAttrs (concatLists (map (n: if pred n attrs.${n} then [ { name = n; value = attrs.${n}; } ] else [ ]) (attrNames attrs)));
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: attrs: if cond then attrs else { };
  concatMap = f: xs: concatLists (map f xs);
  concatStringsSep = builtins.concatStringsSep;
  concatMapStrings = f: xs: concatStringsSep "" (map f xs);
  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  hasInfix = infix: s: builtins.match ".*${escapeRegex infix}.*" s != null;
  escapeRegex = s: replaceStrings
    [ "\\" "[" "]" "{" "}" "(" ")" "^" "$" "." "|" "*" "+" "?" ]
    [ "\\\\" "\\[" "\\]" "\\{" "\\}" "\\(" "\\)" "\\^" "\\$" "\\." "\\|" "\\*" "\\+" "\\?" ] s;
  # nixpkgs' splitString: split on every occurrence of a literal separator.
  splitString = sep: s: filter isString (split (escapeRegex sep) s);
  escapeShellArgs = args: concatStringsSep " " (map escapeShellArg args);
  fileset = {
    unions = paths: paths;
    toSource = filesetToSource;
  };
  licenses = {
    mit = { spdxId = "MIT"; fullName = "MIT License"; free = true; };
    asl20 = { spdxId = "Apache-2.0"; fullName = "Apache License 2.0"; free = true; };
  };
  platforms.linux = [ "x86_64-linux" "aarch64-linux" "i686-linux" "armv7l-linux" "riscv64-linux" ];
  systems.flakeExposed = [ "x86_64-linux" "aarch64-linux" ];
}
