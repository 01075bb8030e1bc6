# Offline evaluation harness for nix/module.nix (no nixpkgs needed).
#
#   nix-instantiate --read-write-mode --eval --strict --json nix/tests/module-eval.nix \
#     [--arg settings '{ ... }'] [--arg networking '{ ... }']
#
# It calls the module with the stub lib and packages of nix/stub-nixpkgs and
# a test configuration, then does the part of lib.evalModules that matters
# here: applies option defaults, checks every value against its option type,
# rejects option names the module does not declare, resolves mkIf / mkMerge /
# mkDefault, checks what the module sets against the NixOS options it may set
# (nixos-options.nix) and fails on failed assertions. It prints the declared
# options, the final settings, the module's config and its warnings as JSON.
#
# The plan derivation is built during evaluation (import from derivation), so
# the real `vigil build` runs on the topology: a topology with errors fails
# the evaluation with the compiler's diagnostics in the build log.
{
  # services.vigil definitions; the default is host web1 of examples/web-pair.toml.
  settings ? {
    enable = true;
    topology = ../../examples/web-pair.toml;
    openFirewall = true;
  }
, # Definitions of the NixOS options the module reads.
  networking ? {
    hostName = "web1";
    nftables.enable = true;
    firewall.enable = true;
  }
, # The module under test (run.sh also feeds it a deliberately broken copy).
  modulePath ? ../module.nix
, # Definitions the host's own configuration adds to the options the module
  # sets (e.g. `{ systemd.services.vigil.restartIfChanged = false; }`). They
  # merge with the module's as NixOS merges two definitions of equal
  # priority: lists concatenate, attribute sets merge, and two different
  # values of one option are a conflict.
  hostConfig ? { }
}:
let
  lib = import ../stub-nixpkgs/lib.nix;
  pkgs = import ../stub-nixpkgs/pkgs.nix { inherit lib; system = builtins.currentSystem; };
  nixosOptions = import ./nixos-options.nix { inherit lib; };

  inherit (builtins) attrNames all filter foldl' head isAttrs isBool isList mapAttrs removeAttrs;

  isOptionType = t: isAttrs t && (t._type or null) == "option-type";

  # NixOS defaults of the options the module reads, overridden by `networking`.
  defaults = { hostName = "nixos"; nftables.enable = false; firewall.enable = true; };
  networkingConfig = defaults // networking // {
    nftables = defaults.nftables // (networking.nftables or { });
    firewall = defaults.firewall // (networking.firewall or { });
  };

  config = {
    networking = networkingConfig;
    services.vigil = vigil;
  };

  module = import modulePath { inherit config lib pkgs; options = { }; modulesPath = ""; };

  moduleShape =
    let extra = filter (n: !(builtins.elem n [ "options" "config" "imports" "meta" ])) (attrNames module);
    in if extra != [ ] then throw "module.nix: unexpected top-level attributes ${toString extra} (a module has options and config)" else true;

  declared = module.options.services.vigil;

  # Defaults and type checks, as evalModules does for each declared option.
  optionValue = name: opt:
    let
      value =
        if settings ? ${name} then settings.${name}
        else if opt ? default then opt.default
        else throw "The option `services.vigil.${name}' is used but not defined.";
    in
    if (opt._type or null) != "option" then throw "services.vigil.${name} is not declared with mkOption"
    else if opt.type.check value then value
    else throw "A definition for option `services.vigil.${name}' is not of type `${opt.type.description}'.";

  undeclared = filter (n: !(declared ? ${n})) (attrNames settings);

  vigil =
    if undeclared != [ ] then throw "The option `services.vigil.${head undeclared}' does not exist."
    else mapAttrs optionValue declared;

  # --- mkIf / mkMerge / mkOverride resolution -------------------------------
  isDerivation = v: isAttrs v && (v.type or null) == "derivation";
  absent = { present = false; };
  present = value: { present = true; inherit value; };

  mergeValues = path: a: b:
    if isList a && isList b then a ++ b
    else if isAttrs a && isAttrs b && !isDerivation a && !isDerivation b then
      a // mapAttrs (n: v: if a ? ${n} then mergeValues "${path}.${n}" a.${n} v else v) b
    else if a == b then a
    else throw "The option `${path}' has conflicting definition values.";

  resolve = path: v:
    let type = if isAttrs v then v._type or null else null;
    in
    if type == "if" then
      (if !isBool v.condition then throw "mkIf at ${path}: the condition is not a boolean"
       else if v.condition then resolve path v.content else absent)
    else if type == "override" then resolve path v.content
    else if type == "merge" then
      foldl'
        (acc: r: if !r.present then acc else if !acc.present then r else present (mergeValues path acc.value r.value))
        absent
        (map (resolve path) v.contents)
    else if type != null then throw "${path}: unsupported module property ${type}"
    else if isAttrs v && !isDerivation v then
      let resolved = mapAttrs (n: resolve "${path}.${n}") v;
      in present (mapAttrs (_: r: r.value) (lib.filterAttrs (_: r: r.present) resolved))
    else present v;

  # --- The module's definitions against the NixOS options it may set --------
  checkTree = path: schema: value:
    if isOptionType schema then
      (if schema.check value then value
       else throw "A definition for option `${path}' is not of type `${schema.description}'.")
    else if !isAttrs value || isDerivation value then
      throw "The option `${path}' is an attribute set of options, not a value."
    else
      mapAttrs
        (n: v:
          let sub = schema.${n} or schema."<name>" or (throw "The option `${if path == "" then n else "${path}.${n}"}' does not exist.");
          in checkTree (if path == "" then n else "${path}.${n}") sub v)
        value;

  moduleConfig =
    let
      r = resolve "config" module.config;
      host = resolve "config" hostConfig;
      merged =
        if !r.present then host
        else if !host.present then r
        else present (mergeValues "config" r.value host.value);
    in if merged.present then checkTree "" nixosOptions merged.value else { };

  failedAssertions = map (a: a.message) (filter (a: !a.assertion) (moduleConfig.assertions or [ ]));

  checked =
    if failedAssertions != [ ] then throw "Failed assertions:\n${lib.concatMapStrings (m: "- ${m}\n") failedAssertions}"
    else moduleConfig;
in
assert moduleShape;
{
  options = mapAttrs
    (_: opt: { type = opt.type.description; } // lib.optionalAttrs (opt ? defaultText) { defaultText = opt.defaultText.text; })
    declared;
  settings = vigil;
  config = removeAttrs checked [ "assertions" "warnings" ];
  warnings = checked.warnings or [ ];
}
