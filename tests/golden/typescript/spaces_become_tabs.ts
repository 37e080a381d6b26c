export function sign(x: number): number {
	if (x < 0) {
		<|cursor|>
	}
	return 1;
}
<|raw|>
        const y = -x;
        return -y;
    }
    return 1;

<|expected|>
const y = -x;
		return -y;
<|end|>
