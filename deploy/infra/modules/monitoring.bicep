// Log Analytics + workspace-based Application Insights. Mamoru exports traces through
// OpenTelemetry (azure-monitor-opentelemetry) without message text or personal data.
param workspaceName string
param appInsightsName string
param location string
param tags object

@description('Days logs are kept.')
param retentionInDays int = 90

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Only Entra-authenticated ingestion could be enforced here; the connection string is
    // what the OpenTelemetry exporter uses, so local auth stays on.
    DisableLocalAuth: false
    RetentionInDays: retentionInDays
  }
}

output workspaceId string = workspace.id
output appInsightsName string = appInsights.name
output appInsightsConnectionString string = appInsights.properties.ConnectionString
