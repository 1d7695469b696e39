using BenchmarkDotNet.Running;

// Micro-benchmarks of the hot paths: `dotnet run -c Release --project bench/Tessera.Benchmarks -- --filter '*'`.
// Not run in CI; results go to docs/benchmarks.md.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

public partial class Program;
