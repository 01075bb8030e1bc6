# NixOS module for Vigil: compiles the cluster-wide topology into this host's
# plan at build time and runs vigild from it.
#
# The systemd unit comes from compiler/templates/unit.json, the file `vigil
# build` renders vigild.service from for Ansible, so both delivery paths run
# the same hardened service; this module only adds what NixOS needs on top.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.vigil;

  inherit (lib) mkOption mkEnableOption mkIf mkMerge types literalExpression;

  planPath = "/etc/vigil/plan.json";

  # ---------------------------------------------------------------------------
  # The plan

  compiledPlan = pkgs.runCommand "vigil-plan-${cfg.hostName}"
    {
      nativeBuildInputs = [ cfg.package ];
      inherit (cfg) topology;
      host = cfg.hostName;
    }
    ''
      # `vigil build` lints first and refuses to write anything when the
      # topology has errors; its diagnostics (lint codes, the TOML lines at
      # fault) go to this build's log.
      if ! vigil build "$topology" --out artifacts; then
        # Nix shows the last lines of a failed build's log: end with one
        # line per error (file:line:column, lint code, message).
        echo "vigil: the topology $topology has errors (diagnostics above); no plan for host '$host'. The errors:" >&2
        vigil check --format concise "$topology" | grep ': error ' >&2 || true
        exit 1
      fi
      if [ ! -f "artifacts/$host/plan.json" ]; then
        hosts=$(cd artifacts && ls -d -- */ | tr -d / | paste -sd ' ')
        echo "vigil: host '$host' is not in the topology $topology (its hosts: $hosts); set services.vigil.hostName" >&2
        exit 1
      fi
      # The runtime's own reading of the plan: a plan it would refuse at
      # start never reaches the machine.
      vigild --check-plan "artifacts/$host/plan.json"
      cp "artifacts/$host/plan.json" "$out"
    '';

  # A plan compiled elsewhere, checked by the runtime and installed unchanged.
  checkedPlan = pkgs.runCommand "vigil-prebuilt-plan-${cfg.hostName}"
    {
      nativeBuildInputs = [ cfg.package ];
      inherit (cfg) plan;
    }
    ''
      vigild --check-plan "$plan"
      cp "$plan" "$out"
    '';

  havePlanSource = cfg.plan != null || cfg.topology != null;

  # networking.firewall.backend exists in newer NixOS (iptables, nftables or
  # firewalld); older releases choose by networking.nftables.enable.
  firewallBackend = config.networking.firewall.backend
    or (if config.networking.nftables.enable then "nftables" else "iptables");

  planFile = if cfg.plan != null then checkedPlan else compiledPlan;

  # Read at evaluation time (import from derivation when compiled): the
  # firewall and the kernel modules follow the plan.
  plan =
    if havePlanSource then builtins.fromJSON (builtins.readFile planFile)
    else { host = cfg.hostName; routers = [ ]; virtual_servers = [ ]; };

  # ---------------------------------------------------------------------------
  # Firewall: VRRP (IP protocol 112) from this host's router peers only, per
  # interface and family, as the nftables.conf `vigil build` writes.

  peerSources = lib.concatMap
    (router:
      map (peer: { inherit (router) interface; inherit (peer) address; router = router.name; }) router.peers
      # IPv6 multicast adverts leave from the sender's link-local address
      # (RFC 5798 section 5.1.2.1), which the sender's kernel picks.
      ++ lib.optional (router.family == "ipv6" && router.unicast_peers == [ ] && router.peers != [ ])
        { inherit (router) interface; address = "fe80::/10"; router = router.name; }
      ++ lib.concatMap
        (path: map (address: { inherit (path) interface; inherit address; router = router.name; }) path.peers)
        router.heartbeat_paths)
    plan.routers;

  familyOf = address: if lib.hasInfix ":" address then "ip6" else "ip";

  peerGroups = builtins.groupBy (s: "${s.interface} ${familyOf s.address}") peerSources;

  firewallRules = map
    (key:
      let group = peerGroups.${key}; first = builtins.head group;
      in {
        inherit (first) interface;
        family = familyOf first.address;
        sources = builtins.sort builtins.lessThan (lib.unique (map (s: s.address) group));
        routers = builtins.sort builtins.lessThan (lib.unique (map (s: s.router) group));
      })
    (builtins.attrNames peerGroups);

  nftAccept = rule:
    ''iifname "${rule.interface}" ${rule.family} saddr { ${lib.concatStringsSep ", " rule.sources} } meta l4proto vrrp accept comment "peers of ${lib.concatStringsSep ", " rule.routers}"'';

  nftTableContent = ''
    chain input {
      type filter hook input priority filter - 10; policy accept;
    ${lib.concatMapStrings (rule: "  ${nftAccept rule}\n") firewallRules}  meta l4proto vrrp counter drop comment "VRRP from outside the topology"
    }
  '';

  iptablesAccept = rule:
    "${if rule.family == "ip6" then "ip6tables" else "iptables"} -A nixos-fw -i ${rule.interface} -p 112"
    + " -s ${lib.concatStringsSep "," rule.sources} -m comment --comment ${lib.escapeShellArg "vigil: peers of ${lib.concatStringsSep ", " rule.routers}"}"
    + " -j nixos-fw-accept";

  # ---------------------------------------------------------------------------
  # Kernel modules: vigild runs with ProtectKernelModules=yes, so IPVS and its
  # schedulers are loaded at boot.

  kernelModules = lib.optionals (plan.virtual_servers != [ ])
    ([ "ip_vs" ] ++ lib.unique (map (vs: "ip_vs_${vs.scheduler}") plan.virtual_servers));

  # ---------------------------------------------------------------------------
  # The unit, from compiler/templates/unit.json

  unitSettings = builtins.fromJSON (builtins.readFile ../compiler/templates/unit.json);

  words = s: builtins.filter (w: w != "") (lib.splitString " " s);

  # unit.json keys that NixOS models as list options (so other modules can add to them).
  unitListOptions = {
    Documentation = "documentation";
    Wants = "wants";
    After = "after";
    Before = "before";
    Requires = "requires";
    BindsTo = "bindsTo";
    PartOf = "partOf";
    Conflicts = "conflicts";
  };
  installListOptions = {
    WantedBy = "wantedBy";
    RequiredBy = "requiredBy";
  };

  unknownSections = builtins.filter (s: !(builtins.elem s [ "_comment" "Unit" "Service" "Install" ])) (builtins.attrNames unitSettings);
  unknownInstallKeys = builtins.filter (k: !(installListOptions ? ${k})) (builtins.attrNames unitSettings.Install);

  # Paths of the Debian layout that NixOS does not have.
  hostPaths = {
    "/bin/kill" = "${pkgs.coreutils}/bin/kill";
    "/usr/bin/kill" = "${pkgs.coreutils}/bin/kill";
  };

  execWord = key: word:
    let
      mapped =
        if word == "@VIGILD@" then "${cfg.package}/bin/vigild"
        else if word == "@PLAN@" then planPath
        else hostPaths.${word} or word;
    in
    if lib.hasPrefix "/" mapped && !(lib.hasPrefix builtins.storeDir mapped) && !(lib.hasPrefix "/etc/vigil/" mapped)
    then throw "compiler/templates/unit.json: ${key} uses ${word}, which does not exist on NixOS; map it in nix/module.nix (hostPaths)"
    else mapped;

  serviceValue = key: value:
    if lib.hasPrefix "Exec" key then lib.concatStringsSep " " (map (execWord key) (words value))
    else value;

  serviceConfig = builtins.mapAttrs serviceValue unitSettings.Service // {
    # vigild refuses a plan for another host; it takes the system's host
    # name unless told otherwise.
    ExecStart = serviceValue "ExecStart" unitSettings.Service.ExecStart
      + lib.optionalString (cfg.hostName != config.networking.hostName) " --host ${lib.escapeShellArg cfg.hostName}"
      + lib.optionalString (cfg.extraArgs != [ ]) " ${lib.escapeShellArgs cfg.extraArgs}";
  };

  unitOptions = builtins.listToAttrs (map
    (key: { name = unitListOptions.${key}; value = words unitSettings.Unit.${key}; })
    (builtins.filter (key: unitListOptions ? ${key}) (builtins.attrNames unitSettings.Unit)));

  unitConfig = lib.filterAttrs (key: _: key != "Description" && !(unitListOptions ? ${key})) unitSettings.Unit;

  installOptions = builtins.listToAttrs (map
    (key: { name = installListOptions.${key}; value = words unitSettings.Install.${key}; })
    (builtins.attrNames unitSettings.Install));

  vigilService =
    if unknownSections != [ ] then throw "compiler/templates/unit.json: sections ${toString unknownSections} have no NixOS mapping in nix/module.nix"
    else if unknownInstallKeys != [ ] then throw "compiler/templates/unit.json: [Install] keys ${toString unknownInstallKeys} have no NixOS mapping in nix/module.nix"
    else
      unitOptions // installOptions // {
        description = unitSettings.Unit.Description;
        inherit unitConfig serviceConfig;
        # The unit names a fixed plan path, so a new plan leaves the unit file
        # unchanged except for this trigger: switch-to-configuration reloads
        # vigild (SIGHUP, ExecReload) instead of restarting it, and the
        # masters keep their VIPs. A new package changes ExecStart: restart,
        # unless the host sets `systemd.services.vigil.restartIfChanged =
        # false` (left to NixOS's default here; see docs/nixos.md).
        reloadTriggers = [ planFile ];
      };
in
{
  options.services.vigil = {
    enable = mkEnableOption "Vigil, VRRP high availability and IPVS load balancing (vigild)";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The Vigil package: `vigil` compiles the topology at build time, `vigild` runs the plan.";
    };

    topology = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = literalExpression "./ha.toml";
      description = ''
        The cluster-wide topology (TOML), the same file on every host. It is
        linted and compiled when the system is built: a topology with errors
        fails the build with the compiler's diagnostics.
      '';
    };

    hostName = mkOption {
      type = types.str;
      default = config.networking.hostName;
      defaultText = literalExpression "config.networking.hostName";
      description = "The host of the topology whose plan this machine runs.";
    };

    plan = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = literalExpression "./plans/web1/plan.json";
      description = ''
        A plan compiled elsewhere by `vigil build` (as Ansible ships it). When
        set, `topology` is not compiled; the plan's host must be `hostName`.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Admit VRRP (IP protocol 112) from this host's router peers only, on
        the interfaces the plan names, and drop VRRP from anywhere else. With
        `networking.nftables.enable` this is an `inet vigil` table (the same
        rules as the nftables.conf `vigil build` writes); otherwise iptables
        rules in the NixOS firewall. With firewalld as the firewall backend
        the module cannot open firewalld's zones and warns instead.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--log-format" "json" ];
      description = "Extra command-line arguments for vigild.";
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = havePlanSource;
          message = "services.vigil: set `topology` (the cluster TOML) or `plan` (a prebuilt plan).";
        }
        {
          assertion = !havePlanSource || plan.host == cfg.hostName;
          message = "services.vigil: the plan ${toString (if cfg.plan != null then cfg.plan else planFile)} is for host '${plan.host}', not '${cfg.hostName}'.";
        }
      ];

      warnings =
        lib.optional (cfg.plan != null && cfg.topology != null)
          "services.vigil: `plan` is set, so `topology` is not compiled."
        ++ lib.optional (cfg.openFirewall && firewallBackend != "firewalld" && !config.networking.nftables.enable && !config.networking.firewall.enable)
          "services.vigil.openFirewall has no effect: neither networking.firewall nor networking.nftables is enabled."
        ++ lib.optional (cfg.openFirewall && firewallBackend == "firewalld")
          ("services.vigil.openFirewall cannot admit VRRP with networking.firewall.backend = \"firewalld\": "
            + "firewalld's zones drop IP protocol 112 unless told otherwise. Allow protocol vrrp from this host's peers "
            + "(${lib.concatStringsSep ", " (lib.unique (map (s: s.address) peerSources))}) in the zone of "
            + "${lib.concatStringsSep ", " (lib.unique (map (s: s.interface) peerSources))} yourself"
            + lib.optionalString config.networking.nftables.enable "; the `inet vigil` table still drops VRRP from anywhere else"
            + ".");

      environment.etc."vigil/plan.json".source = planFile;
      environment.systemPackages = [ cfg.package ];

      boot.kernelModules = kernelModules;

      systemd.services.vigil = vigilService;
    }

    (mkIf (cfg.openFirewall && config.networking.nftables.enable) {
      # Runs before the NixOS firewall's table (priority filter - 10) and drops
      # foreign VRRP; an accept here does not bypass other tables, hence the
      # same accepts in the firewall's input-allow chain below.
      networking.nftables.tables.vigil = {
        family = "inet";
        content = nftTableContent;
      };
    })

    (mkIf (cfg.openFirewall && firewallBackend == "nftables" && config.networking.firewall.enable) {
      networking.firewall.extraInputRules = lib.concatMapStrings (rule: "${nftAccept rule}\n") firewallRules;
    })

    (mkIf (cfg.openFirewall && firewallBackend == "iptables") {
      # nixos-fw drops what it does not accept, so foreign VRRP stays out.
      networking.firewall.extraCommands = lib.concatMapStrings (rule: "${iptablesAccept rule}\n") firewallRules;
    })
  ]);
}
