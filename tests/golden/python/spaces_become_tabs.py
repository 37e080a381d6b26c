class A:
	def f(self):
		if self.x:
			return 1
	def g(self):
		<|cursor|>
<|raw|>
        if self.y:
            return 2
        return 3

<|expected|>
if self.y:
			return 2
		return 3
<|end|>
