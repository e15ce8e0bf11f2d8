package main

// version is set at link time by `make build` (-X main.version=...).
var version = "dev"
