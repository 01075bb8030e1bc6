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
      # A workspace member: cargo refuses a workspace whose member is missing.
      ../bench
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

  # The two programs and nothing else (bench/'s tools stay out of $out/bin).
  # nix/tests/run.sh runs this cargo build, offline and --frozen, on exactly
  # the source above.
  cargoBuildFlags = [ "-p" "vigil" "-p" "vigild" ];
  # The test suites drive keepalived, nft and network namespaces as root,
  # which the build sandbox does not offer; they run in ./run-tests instead.
  doCheck = false;

  meta = {
    description = "VRRP high availability and IPVS load balancing from one cluster-wide topology";
    homepage = "https://github.com/vigil-ha/vigil";
    license = with lib.licenses; [ mit asl20 ];
    mainProgram = "vigil";
    platforms = lib.platforms.linux;
  };
}
