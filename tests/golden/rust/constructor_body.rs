impl Counter {
    fn new() -> Self {
        <|cursor|>
    }
}
<|raw|>
        Counter { count: 0 }
    }

    fn inc(&mut self) {
<|expected|>
Counter { count: 0 }
<|end|>
