mod state;
fn main() {}
