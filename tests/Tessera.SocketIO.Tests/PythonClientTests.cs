using System.Diagnostics;

namespace Tessera.SocketIO.Tests;

/// <summary>python-socketio from Debian (/usr/bin/python3) against the Socket.IO test app.</summary>
public class PythonClientTests
{
    [Theory]
    [InlineData("websocket")]
    [InlineData("polling")]
    public async Task Python_socketio_connects_with_auth_acks_and_receives_broadcasts(string transport)
    {
        await using var server = await SioTestServer.StartAsync();
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            WorkingDirectory = NodeInterop.InteropDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("socketio_client.py");
        start.ArgumentList.Add(transport);
        start.ArgumentList.Add(server.BaseUrl);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"python client failed:\n{await stderr}\n{await stdout}");
        Assert.Contains("\"ok\": true", await stdout);
    }
}
