x = 1
<|cursor|>
<|raw|>


   

<|expected|>

<|end|>
