# A small stand-in for nixpkgs' package set, for offline tests only.
#
# Builders are plain `derivation`s run by the host's bash (the sandbox is off
# on the test machines). `rustPlatform.buildRustPackage` cannot compile
# offline, so it checks the arguments the real builder requires and installs
# the binaries `nix/tests/run.sh` copied from the cargo build into ./prebuilt.
{ lib, system }:
let
  # Stands in for stdenv's coreutils, grep, sed...: the host's.
  hostPath = "/usr/local/bin:/usr/bin:/bin";

  binPath = drvs: builtins.concatStringsSep ":" (map (d: "${d}/bin") drvs ++ [ hostPath ]);

  # Like stdenv.mkDerivation's builder: bash with errexit, nounset, pipefail.
  # The trailing `:` keeps bash alive until the script's last command has
  # exited: bash would otherwise exec that command, and a coreutils program
  # closes stdout/stderr before exiting, which Nix (without sandbox) takes
  # for the end of the build and answers with SIGKILL (NixOS/nix#2176).
  # stdenv's builder never execs its last command, so it is not exposed.
  mkScript = { name, script, path ? [ ], env ? { } }:
    derivation (env // {
      inherit name system;
      builder = "/bin/bash";
      args = [ "-c" "set -euo pipefail\n${script}\n:" ];
      PATH = binPath path;
    });

  # A package the tests never build: evaluating it is fine, building it says why it fails.
  placeholder = name: mkScript {
    inherit name;
    script = ''
      echo "stub-nixpkgs: ${name} is a placeholder; it cannot be built offline" >&2
      exit 1
    '';
  };

  prebuilt = if builtins.pathExists ./prebuilt then ./prebuilt else null;

  buildRustPackage = args:
    let
      required = [ "pname" "version" "src" "cargoLock" ];
      missing = builtins.filter (n: !(args ? ${n})) required;
      lockFile = args.cargoLock.lockFile or (throw "buildRustPackage: cargoLock.lockFile is required (cargoHash is not used here)");
    in
    if missing != [ ] then throw "buildRustPackage: missing arguments ${toString missing}"
    else if !(builtins.pathExists lockFile) then throw "buildRustPackage: ${toString lockFile} does not exist"
    else
      mkScript {
        name = "${args.pname}-${args.version}";
        env = {
          inherit (args) src;
          cargoLock = lockFile;
          prebuilt = if prebuilt == null then "" else prebuilt;
        };
        script = ''
          if [ -z "$prebuilt" ]; then
            echo "stub buildRustPackage: nix/stub-nixpkgs/prebuilt/ is missing; nix/tests/run.sh fills it from the cargo build" >&2
            exit 1
          fi
          # The real builder compiles $src against $cargoLock; check that they belong together.
          cmp -s "$src/Cargo.lock" "$cargoLock" || { echo "stub buildRustPackage: src/Cargo.lock differs from cargoLock.lockFile" >&2; exit 1; }
          mkdir -p "$out/bin"
          for bin in "$prebuilt"/*; do
            cp "$bin" "$out/bin/"
            chmod 0555 "$out/bin/$(basename "$bin")"
          done
        '';
      } // {
        meta = args.meta or { };
        # As the real builder passes them to `cargo build`; nix/tests/run.sh
        # runs that build on exactly this src.
        cargoBuildFlags = args.cargoBuildFlags or [ ];
      };

  pkgs = {
    inherit lib system;
    stdenv.hostPlatform.system = system;
    rustPlatform = { inherit buildRustPackage; };

    runCommand = name: env: script:
      mkScript {
        inherit name script;
        path = (env.nativeBuildInputs or [ ]) ++ (env.buildInputs or [ ]);
        env = builtins.removeAttrs env [ "nativeBuildInputs" "buildInputs" ];
      };

    mkShell = { packages ? [ ], inputsFrom ? [ ], shellHook ? "", ... }:
      mkScript {
        name = "nix-shell";
        path = packages ++ inputsFrom;
        env = { inherit shellHook; };
        script = ''echo "$PATH" > "$out"'';
      };

    callPackage = fn: overrides:
      let f = if builtins.isFunction fn then fn else import fn;
      in f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);

    coreutils = placeholder "coreutils";
    cargo = placeholder "cargo";
    rustc = placeholder "rustc";
    clippy = placeholder "clippy";
    rustfmt = placeholder "rustfmt";
  };
in
pkgs
