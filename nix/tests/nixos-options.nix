# The NixOS options nix/module.nix sets, with their types as NixOS declares
# them (nixos/modules/system/boot/systemd.nix, services/networking/firewall.nix,
# services/networking/nftables.nix, system/etc/etc.nix, misc/assertions.nix,
# system/boot/kernel.nix, config/system-path.nix). The harness rejects any
# other option name, so a misspelt `reloadTrigger` or `extraInputRule` fails
# offline. `"<name>"` stands for the attribute name of an `attrsOf submodule`.
{ lib }:
let
  inherit (lib) types;
  # nixos/lib/systemd-lib.nix: unitNameType.
  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";
  unitList = types.listOf unitNameType;
  unitAttrs = types.attrsOf (lib.mkOptionType {
    name = "systemdUnitValue";
    description = "systemd unit value (bool, int, string, path or list of them)";
    check = v: builtins.isBool v || builtins.isInt v || lib.isStringLike v || builtins.isList v;
  });
  # nixos/lib/systemd-unit-options.nix: checkService (assertValueOneOf).
  oneOfIfSet = name: values: attrs: !(attrs ? ${name}) || builtins.elem attrs.${name} values;
  checkService = attrs:
    oneOfIfSet "Type" [ "exec" "simple" "forking" "oneshot" "dbus" "notify" "notify-reload" "idle" ] attrs
    && oneOfIfSet "Restart" [ "no" "on-success" "on-failure" "on-abnormal" "on-abort" "always" ] attrs;
in
{
  assertions = types.listOf (lib.mkOptionType {
    name = "assertion";
    check = a: builtins.isAttrs a && builtins.isBool (a.assertion or null) && builtins.isString (a.message or null);
  });
  warnings = types.listOf types.str;

  boot.kernelModules = types.listOf types.str;

  environment = {
    systemPackages = types.listOf types.package;
    etc."<name>" = {
      source = types.path;
      text = types.nullOr types.lines;
      mode = types.str;
    };
  };

  networking = {
    firewall = {
      extraCommands = types.lines;
      extraInputRules = types.lines;
    };
    nftables.tables."<name>" = {
      family = types.enum [ "ip" "ip6" "inet" "arp" "bridge" "netdev" ];
      content = types.lines;
    };
  };

  systemd.services."<name>" = {
    description = types.singleLineStr;
    documentation = types.listOf types.str;
    wants = unitList;
    after = unitList;
    before = unitList;
    requires = unitList;
    bindsTo = unitList;
    partOf = unitList;
    conflicts = unitList;
    wantedBy = unitList;
    requiredBy = unitList;
    unitConfig = unitAttrs;
    serviceConfig = types.addCheck unitAttrs checkService;
    reloadTriggers = types.listOf types.unspecified;
    restartTriggers = types.listOf types.unspecified;
    restartIfChanged = types.bool;
    reloadIfChanged = types.bool;
    stopIfChanged = types.bool;
  };
}
