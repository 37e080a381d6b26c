package geo

type Point struct {
	<|cursor|>
}
<|raw|>
	X int
	Y int
}

<|expected|>
X int
	Y int
<|end|>
