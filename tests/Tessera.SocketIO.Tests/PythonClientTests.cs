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
        var summary = await NodeInterop.RunProcessAsync("/usr/bin/python3", ["socketio_client.py", transport, server.BaseUrl]);
        Assert.True(summary.GetProperty("ok").GetBoolean());
    }
}
