{
  description = "Offline stand-in for nixpkgs: just the lib functions and packages Vigil's flake and NixOS module use";

  outputs = { self }:
    let lib = import ./lib.nix;
    in {
      inherit lib;
      legacyPackages = lib.genAttrs lib.systems.flakeExposed (system: import ./pkgs.nix { inherit lib system; });
    };
}
