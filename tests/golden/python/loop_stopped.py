def fill(buf):
    <|cursor|>
<|raw|>
    buf.append(0)
    buf.append(0)
    buf.append(0)
    buf.append(0)
<|expected|>
buf.append(0)
<|end|>
