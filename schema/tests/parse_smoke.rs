use vigil_schema::topology::{OnFail, Topology};

#[test]
fn example_parses_with_spans() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/web-pair.toml")).unwrap();
    let topo: Topology = toml::from_str(&src).unwrap();
    let router = &topo.router["www"];
    assert_eq!(&src[router.vrid.span.clone()], "51");
    let track = &router.track["nginx"];
    match &track.on_fail.value {
        OnFail::Demote(w) => assert_eq!(&src[w.span.clone()], "60"),
        other => panic!("{other:?}"),
    }
    println!("{}", &src[router.span.clone()]);
}
