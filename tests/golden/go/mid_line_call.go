package main

func main() {
	fmt.Println(<|cursor|>)
}
<|raw|>
"hello")
<|expected|>
"hello"
<|end|>
