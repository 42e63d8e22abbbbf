module github.com/maestro-rl/maestro

go 1.26
