CONFIG = {
    <|cursor|>
}
<|raw|>
    "host": "localhost",
    "port": 8080,
}

print(CONFIG)
<|expected|>
"host": "localhost",
    "port": 8080,
<|end|>
