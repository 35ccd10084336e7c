// App Service plan (Linux) and the web app running Mamoru on Python 3.12.
//
// App Service's Python image builds the deployed zip with Oryx (pip install -r
// requirements.txt into a virtual environment) and runs the startup command inside it.
// Mamoru serves aiohttp itself (`mamoru serve`); the platform forwards HTTPS to port 8000
// and probes /healthz. Settings are MAMORU_* environment variables (bot/config.py);
// the database URL is a Key Vault reference resolved with the managed identity.
param planName string
param siteName string
param location string
param tags object
param sku string
param identityId string
param identityClientId string
param tenantId string
param subnetId string
param workspaceId string
param appInsightsConnectionString string
param vaultName string
param databaseUrlSecretName string
param migrationDatabaseUrlSecretName string
param evidenceContainerUrl string
param graphMode string
param managerIds string = ''
param managerGroupId string = ''
param departments string = ''
param legalIds string = ''
param legalGroupId string = ''
param departmentMailbox string = ''
param adminContact string = ''
param departmentName string = ''
param mailSignatory string = ''
param mailReferenceDepartment string = ''

var port = '8000'

resource plan 'Microsoft.Web/serverfarms@2022-09-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy needs Premium v3 plans and three instances: a cost decision left to the municipality.
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: sku
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2022-09-01' = {
  // checkov:skip=CKV_AZURE_212: one instance is enough for a municipality's staff; raise capacity (and use zone redundancy on P-series plans) when the load asks for it.
  // checkov:skip=CKV_AZURE_13: App Service Authentication would reject the Bot Connector; the Agents SDK validates the Bot Connector's JWT on /api/messages itself.
  // checkov:skip=CKV_AZURE_17: the Bot Connector does not present client certificates.
  // checkov:skip=CKV_AZURE_222: Teams reaches the bot through the Bot Connector over the internet; the endpoint must be public (it only accepts Bot Connector tokens).
  // checkov:skip=CKV_AZURE_88: Mamoru keeps no files on the app's disk in Azure: the database is PostgreSQL and evidence goes to the immutable container.
  name: siteName
  location: location
  tags: union(tags, {
    'azd-service-name': 'bot'
  })
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: subnetId
    vnetRouteAllEnabled: true
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.12'
      appCommandLine: 'python -m bot serve --host 0.0.0.0 --port ${port}'
      healthCheckPath: '/healthz'
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      remoteDebuggingEnabled: false
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      appSettings: [
        // Build on deploy: Oryx installs requirements.txt (written by deploy/scripts/build_app.py).
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'true'
        }
        {
          name: 'WEBSITES_PORT'
          value: port
        }
        {
          name: 'MAMORU_HOST'
          value: '0.0.0.0'
        }
        {
          name: 'MAMORU_PORT'
          value: port
        }
        // The bot identity is the user-assigned managed identity (no secret).
        {
          name: 'MAMORU_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'MAMORU_TENANT_ID'
          value: tenantId
        }
        {
          name: 'MAMORU_AUTH_TYPE'
          value: 'UserManagedIdentity'
        }
        {
          name: 'MAMORU_ALLOW_ANONYMOUS'
          value: 'false'
        }
        // Graph with the same identity; deploy/exchange/ limits it to the opted-in mailboxes.
        {
          name: 'MAMORU_GRAPH_MODE'
          value: graphMode
        }
        {
          name: 'MAMORU_GRAPH_AUTH_TYPE'
          value: 'UserManagedIdentity'
        }
        {
          name: 'MAMORU_MANAGER_IDS'
          value: managerIds
        }
        {
          name: 'MAMORU_MANAGER_GROUP_ID'
          value: managerGroupId
        }
        {
          name: 'MAMORU_DEPARTMENTS'
          value: departments
        }
        {
          name: 'MAMORU_LEGAL_IDS'
          value: legalIds
        }
        {
          name: 'MAMORU_LEGAL_GROUP_ID'
          value: legalGroupId
        }
        {
          name: 'MAMORU_DEPARTMENT_MAILBOX'
          value: departmentMailbox
        }
        {
          name: 'MAMORU_ADMIN_CONTACT'
          value: adminContact
        }
        {
          name: 'MAMORU_DEPARTMENT_NAME'
          value: departmentName
        }
        {
          name: 'MAMORU_MAIL_SIGNATORY'
          value: mailSignatory
        }
        {
          name: 'MAMORU_MAIL_REFERENCE_DEPARTMENT'
          value: mailReferenceDepartment
        }
        {
          name: 'MAMORU_PUBLIC_HOSTNAME'
          value: '${siteName}.azurewebsites.net'
        }
        {
          name: 'MAMORU_DATA_DIR'
          value: '/home/mamoru'
        }
        {
          name: 'MAMORU_EVIDENCE_CONTAINER_URL'
          value: evidenceContainerUrl
        }
        // Secrets only from Key Vault: the value is resolved by App Service at start.
        {
          name: 'DATABASE_URL'
          value: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${databaseUrlSecretName})'
        }
        // The owner role: startup migrations, then grants to DATABASE_URL's role. Remove this
        // setting between upgrades to keep the owner's password out of the app (deploy/README.md).
        {
          name: 'MAMORU_MIGRATION_DATABASE_URL'
          value: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${migrationDatabaseUrlSecretName})'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'OTEL_SERVICE_NAME'
          value: 'mamoru'
        }
        // The managed identity's client id for azure-identity / azure-monitor (AAD auth).
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
      ]
    }
  }
}

// Deployments authenticate with Entra ID (OIDC from GitHub, azd): no publishing passwords.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2022-09-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2022-09-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceAppLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
        enabled: true
      }
    ]
  }
}

output name string = site.name
output hostname string = site.properties.defaultHostName
