-- A newly promoted version replaces the champion, which stays registered as a challenger.
update models.registry set status = 'challenger' where status = 'champion'
