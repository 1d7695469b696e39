using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>The real server binary (Tessera.Server.dll) as its own process, on a loopback port and a temp data directory.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, string baseUrl, string dataDirectory)
    {
        _process = process;
        BaseUrl = baseUrl;
        DataDirectory = dataDirectory;
        Http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(10) };
    }

    public string BaseUrl { get; }
    public string DataDirectory { get; }
    public HttpClient Http { get; }
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "Tessera.Server.dll");

    public static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "tessera-server-tests", Guid.NewGuid().ToString("N"));

    public static int FreePort() => LocalProcesses.FreePort();

    public static ProcessStartInfo StartInfo(string dataDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(ServerDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.ArgumentList.Add("--Tessera:DataDirectory=" + dataDirectory);
        start.Environment["DOTNET_NOLOGO"] = "1";
        return start;
    }

    /// <summary>Runs a command-line verb to completion: exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunCliAsync(string dataDirectory, params string[] args)
    {
        using var process = Process.Start(StartInfo(dataDirectory, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public static async Task<ServerProcess> StartAsync(string? dataDirectory = null, int? port = null, IReadOnlyDictionary<string, string>? environment = null, params string[] extra)
    {
        dataDirectory ??= NewDataDirectory();
        var baseUrl = $"http://127.0.0.1:{port ?? FreePort()}";
        var start = StartInfo(dataDirectory, ["--urls", baseUrl, .. extra]);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        OrphanGuard.Watch(process.Id);
        var server = new ServerProcess(process, baseUrl, dataDirectory);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (server._output)
            {
                server._output.AppendLine(e.Data);
            }
            if (e.Data.Contains("Tessera listening on", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (server._output)
            {
                server._output.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        if (await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(30))) != ready.Task)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("The server did not start:\n" + server.Output);
        }
        return server;
    }

    public async Task<HttpResponseMessage> PostJsonAsync(string path, object? body, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }
        return await Http.SendAsync(request);
    }

    public async Task<(string Token, string Refresh)> LoginAsync(string username, string password)
    {
        using var response = await PostJsonAsync("/auth/login", new { username, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("token").GetString()!, body.GetProperty("refreshToken").GetString()!);
    }

    /// <summary>SIGKILL: no shutdown code runs, as when the machine loses power to the process.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM and wait for a clean exit.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
