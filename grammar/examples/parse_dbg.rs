fn main() {
    let text = std::env::args().nth(1).unwrap();
    let (p, d) = ferret_grammar::parse_program(&text);
    println!("{:#?}\n{:#?}", p, d);
}
