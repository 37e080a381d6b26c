package main

func read(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		<|cursor|>
	}
	return data, nil
}
<|raw|>
		return nil, err
	}
	return data, nil
}
<|expected|>
return nil, err
<|end|>
