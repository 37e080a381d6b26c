const port: number = <|cursor|>;
<|raw|>
8080;
<|expected|>
8080
<|end|>
