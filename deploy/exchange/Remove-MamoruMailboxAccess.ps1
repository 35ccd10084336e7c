<#
.SYNOPSIS
    Grant-MamoruMailboxAccess.ps1 が作ったものを削除します (ロールの割り当て、管理スコープ、サービス プリンシパル)。
    Removes what Grant-MamoruMailboxAccess.ps1 created: role assignments, management scope, service principal.

.DESCRIPTION
    日本語: Mamoru を撤去するとき、またはやり直すときに使います。グループとその
    メンバー、Azure のリソースには触れません。何度実行しても安全です。
    削除後は Mamoru からメールボックスへのアクセスはすべて拒否されます
    (テナント全体の Entra の同意を与えていない限り。与えてはいけません)。

    English: use it to retire Mamoru or to start over. It leaves the group, its members and
    the Azure resources alone. Safe to run again. Afterwards every mailbox access by Mamoru
    is refused (unless a tenant-wide Entra consent exists, which must never be granted).

.PARAMETER ServicePrincipalObjectId
    マネージド ID のオブジェクト ID (azd の出力 MAMORU_IDENTITY_PRINCIPAL_ID)。
    Object id of the managed identity's service principal.

.PARAMETER ScopeName
    Grant スクリプトで使った管理スコープ名。/ The management scope name used by the grant script.

.PARAMETER KeepServicePrincipal
    サービス プリンシパルの参照を残します。/ Keep the Exchange service principal reference.

.EXAMPLE
    Connect-ExchangeOnline
    ./Remove-MamoruMailboxAccess.ps1 -ServicePrincipalObjectId $env:MAMORU_IDENTITY_PRINCIPAL_ID -WhatIf
#>
#Requires -Version 7.0
[CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F-]{36}$')]
    [string] $ServicePrincipalObjectId,

    [string] $ScopeName = 'Mamoru - opted-in mailboxes',
    [switch] $KeepServicePrincipal
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

if (-not (Get-Command Get-ConnectionInformation -ErrorAction SilentlyContinue) -or
    -not (Get-ConnectionInformation)) {
    throw 'Connect-ExchangeOnline を先に実行してください / Run Connect-ExchangeOnline first.'
}

# 1. ロールの割り当て / Role assignments of the service principal
$assignments = @(Get-ManagementRoleAssignment -RoleAssignee $ServicePrincipalObjectId -ErrorAction SilentlyContinue)
foreach ($assignment in $assignments) {
    if ($PSCmdlet.ShouldProcess($assignment.Name, 'Remove-ManagementRoleAssignment')) {
        Remove-ManagementRoleAssignment -Identity $assignment.Identity -Confirm:$false
        Write-Host "removed role assignment '$($assignment.Name)' ($($assignment.Role))"
    }
}
if ($assignments.Count -eq 0) { Write-Host 'no role assignment left' }

# 2. 管理スコープ (他の割り当てが使っていなければ) / Management scope, when nothing else uses it
$scope = Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue
if ($null -ne $scope) {
    $users = @(Get-ManagementRoleAssignment -ErrorAction SilentlyContinue | Where-Object { $_.CustomResourceScope -eq $ScopeName })
    if ($users.Count -gt 0) {
        Write-Warning "scope '$ScopeName' is still used by: $(($users | ForEach-Object Name) -join ', '); kept"
    } elseif ($PSCmdlet.ShouldProcess($ScopeName, 'Remove-ManagementScope')) {
        Remove-ManagementScope -Identity $ScopeName -Confirm:$false
        Write-Host "removed management scope '$ScopeName'"
    }
} else {
    Write-Host "no management scope '$ScopeName'"
}

# 3. サービス プリンシパルの参照 / The Exchange service principal reference
if (-not $KeepServicePrincipal) {
    $sp = Get-ServicePrincipal -Identity $ServicePrincipalObjectId -ErrorAction SilentlyContinue
    if ($null -ne $sp -and $PSCmdlet.ShouldProcess($sp.DisplayName, 'Remove-ServicePrincipal')) {
        Remove-ServicePrincipal -Identity $ServicePrincipalObjectId -Confirm:$false
        Write-Host "removed service principal $($sp.DisplayName)"
    }
}
Write-Host 'done / 完了'
