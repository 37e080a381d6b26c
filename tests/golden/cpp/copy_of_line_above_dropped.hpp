#include <vector>
#include <string>
<|cursor|>
<|raw|>
#include <string>

<|expected|>

<|end|>
