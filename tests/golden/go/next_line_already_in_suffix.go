package main

func main() {<|cursor|>
	fmt.Println("hi")
}
<|raw|>

	fmt.Println("hi")
}
<|expected|>

<|end|>
