# Vigil: the topology compiler `vigil` and the runtime `vigild`, from this workspace.
{ lib, rustPlatform }:

rustPlatform.buildRustPackage {
  pname = "vigil";
  version = "0.1.0";

  # Only what cargo needs, so editing docs or examples does not rebuild.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../schema
      ../compiler
      ../runtime
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

  # Both crates' binaries; the virtual workspace builds all members.
  cargoBuildFlags = [ "--workspace" ];
  # The runtime's integration tests need network namespaces and root, which
  # the build sandbox does not give; the compiler's and the schema's run.
  cargoTestFlags = [ "-p" "vigil-schema" "-p" "vigil" ];

  meta = {
    description = "VRRP high availability and IPVS load balancing from one cluster-wide topology";
    homepage = "https://github.com/vigil-ha/vigil";
    license = with lib.licenses; [ mit asl20 ];
    mainProgram = "vigil";
    platforms = lib.platforms.linux;
  };
}
