<#
.SYNOPSIS
    管理職をグループで定める場合だけ: Mamoru に Microsoft Graph の GroupMember.Read.All を与えます。
    Only when managers are defined by a group: grants Mamoru Microsoft Graph GroupMember.Read.All.

.DESCRIPTION
    日本語:
      MAMORU_MANAGER_GROUP_ID を使う場合、Mamoru は「この人は管理職グループのメンバーか」を
      Graph で確かめます。そのための GroupMember.Read.All は Entra のアプリケーション許可で、
      テナント全体に効きます。ただし読み取り専用で、分かるのはグループの所属だけです
      (メール、予定、ファイルには触れられません)。管理職をオブジェクト ID の一覧
      (MAMORU_MANAGER_IDS) で定めるなら、この許可は不要です。
      このスクリプトは Mail.* / MailboxSettings.* / Calendars.* を決して与えません。それらは
      Grant-MamoruMailboxAccess.ps1 (Exchange の RBAC for Applications) で範囲を絞って与えます。

    English:
      With MAMORU_MANAGER_GROUP_ID, Mamoru asks Graph whether a person is a member of the
      managers' group. GroupMember.Read.All is an Entra application permission and so
      tenant-wide, but read-only and limited to group memberships (no mail, calendar or
      files): acceptable. With a list of object ids (MAMORU_MANAGER_IDS) it is not needed.
      This script never grants Mail.*, MailboxSettings.* or Calendars.*: those are scoped by
      Grant-MamoruMailboxAccess.ps1 (Exchange RBAC for Applications).

.PARAMETER ServicePrincipalObjectId
    マネージド ID のオブジェクト ID (azd の出力 MAMORU_IDENTITY_PRINCIPAL_ID)。
    Object id of the managed identity's service principal.

.EXAMPLE
    Connect-MgGraph -Scopes AppRoleAssignment.ReadWrite.All, Application.Read.All
    ./Grant-MamoruGroupMemberRead.ps1 -ServicePrincipalObjectId $env:MAMORU_IDENTITY_PRINCIPAL_ID
#>
#Requires -Version 7.0
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F-]{36}$')]
    [string] $ServicePrincipalObjectId
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$Permission = 'GroupMember.Read.All'
$GraphAppId = '00000003-0000-0000-c000-000000000000'

if (-not (Get-Command Get-MgContext -ErrorAction SilentlyContinue) -or -not (Get-MgContext)) {
    throw 'Connect-MgGraph -Scopes AppRoleAssignment.ReadWrite.All, Application.Read.All を先に実行してください / first'
}

$graph = Get-MgServicePrincipal -Filter "appId eq '$GraphAppId'"
$role = $graph.AppRoles | Where-Object { $_.Value -eq $Permission -and $_.AllowedMemberTypes -contains 'Application' }
if ($null -eq $role) { throw "Microsoft Graph has no application permission $Permission" }

$existing = Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $ServicePrincipalObjectId -All |
    Where-Object { $_.ResourceId -eq $graph.Id -and $_.AppRoleId -eq $role.Id }
if ($existing) {
    Write-Host "$Permission is already granted"
} elseif ($PSCmdlet.ShouldProcess($ServicePrincipalObjectId, "grant Microsoft Graph $Permission")) {
    New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $ServicePrincipalObjectId `
        -PrincipalId $ServicePrincipalObjectId -ResourceId $graph.Id -AppRoleId $role.Id | Out-Null
    Write-Host "granted $Permission (read-only group memberships)"
}
Write-Host 'done / 完了'
