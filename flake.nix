{
  description = "Vigil: VRRP high availability and IPVS load balancing compiled from one cluster-wide topology";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      forAllSystems = f: lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
      });

      overlays.default = final: _prev: {
        vigil = final.callPackage ./nix/package.nix { };
      };

      # The module defaults services.vigil.package to this flake's build.
      nixosModules.default = { lib, pkgs, ... }: {
        imports = [ ./nix/module.nix ];
        services.vigil.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      };

      checks = forAllSystems (pkgs: {
        # Every example topology must lint clean.
        lint-examples = pkgs.runCommand "vigil-lint-examples"
          {
            nativeBuildInputs = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
            examples = ./examples;
          }
          ''
            found=0
            for topology in "$examples"/*.toml; do
              echo "vigil check $(basename "$topology")"
              vigil check "$topology"
              found=$((found + 1))
            done
            if [ "$found" -eq 0 ]; then
              echo "no examples/*.toml found" >&2
              exit 1
            fi
            echo "$found topologies lint clean" > "$out"
          '';
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = [ pkgs.cargo pkgs.rustc pkgs.clippy pkgs.rustfmt ];
        };
      });
    };
}
