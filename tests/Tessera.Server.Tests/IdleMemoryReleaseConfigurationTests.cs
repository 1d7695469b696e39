using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tessera.EngineIO;

namespace Tessera.Server.Tests;

/// <summary>README: <c>Tessera:IdleMemoryRelease</c> reaches the release's options (on by default).</summary>
public class IdleMemoryReleaseConfigurationTests
{
    private static IdleMemoryReleaseOptions Bound(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTessera(configuration);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<IdleMemoryReleaseOptions>>().Value;
    }

    [Fact]
    public void On_by_default_and_off_or_tuned_from_configuration()
    {
        var defaults = Bound([]);
        Assert.True(defaults.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(3), defaults.QuietPeriod);

        var tuned = Bound(new()
        {
            ["Tessera:IdleMemoryRelease:Enabled"] = "false",
            ["Tessera:IdleMemoryRelease:QuietPeriod"] = "00:00:05",
            ["Tessera:IdleMemoryRelease:MaxHeapBytes"] = "1073741824",
        });
        Assert.False(tuned.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(5), tuned.QuietPeriod);
        Assert.Equal(1L << 30, tuned.MaxHeapBytes);
    }
}
