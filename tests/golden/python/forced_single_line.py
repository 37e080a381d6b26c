def f():
    <|cursor|>
<|raw|> mode=single_line
    x = 1
    return x
<|expected|>
x = 1
<|end|>
