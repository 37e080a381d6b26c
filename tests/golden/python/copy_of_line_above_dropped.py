import os
import sys
<|cursor|>
<|raw|>
import sys

<|expected|>

<|end|>
