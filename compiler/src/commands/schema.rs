//! `vigil schema`: the topology JSON Schema (for editors and taplo).

use vigil_schema::topology::Topology;

pub fn run() -> u8 {
    print!("{}", vigil_schema::schema_json::<Topology>());
    0
}
