name = input(<|cursor|>).strip()
<|raw|>
"Name: ").strip()

<|expected|>
"Name: "
<|end|>
