x = 1
<|cursor|>
<|raw|> mode=multi_line
y = 2
z = x + y

<|expected|>
y = 2
z = x + y
<|end|>
